"""benchmarks/results/summary.md from latest.json: every figure beside its floor, ratio and target.

The before/after table of the fixes reads benchmarks/results/before-fixes.json: the same
scenarios measured on the code before the fixes (kept as it was measured, never edited).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS

PAGES = ("lot_search", "lot_view", "review_by_exception", "audit_trail_filter", "lot_search_first_page")
PAGE_NAMES = {
    "lot_search": "Lot search (auditor portal, by number)",
    "lot_view": "Lot view",
    "review_by_exception": "Review by exception (QA)",
    "audit_trail_filter": "Audit trail filtered by lot",
    "lot_search_first_page": "Auditor portal opened (newest 25 lots, no filter; extra)",
}
#: What was changed because a benchmark showed it slow: (files, change, page measured).
FIXES = (
    (
        "app/signatures/services.py, app/batches/services/overview.py",
        "`signatures_of_many`: the signatures of all steps of a lot in one query; `lot_overview` called "
        "`signatures_of` once per step (54 queries for an XS411 lot)",
        "lot_view",
    ),
    (
        "app/release/facts.py",
        "`_signed_records` reads the signatures of every step, deviation and QC result in one query "
        "(was one query per record)",
        "review_by_exception",
    ),
    (
        "migrations/versions/0006_lot_number_search_index.py",
        "trigram GIN index on lots.lot_number (pg_trgm): the portal's 'lot number contains' (ILIKE '%…%') "
        "read the whole lots table",
        "lot_search",
    ),
    (
        "app/documents/services/portal.py",
        "the portal's lot list no longer loads every step and entry of the 25 lots it shows "
        "(`lazyload(Lot.steps)`; 6,700 entries per page at 10×)",
        "lot_search_first_page",
    ),
)


def _get(data: Any, *path: Any) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        value = f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"
    elif isinstance(value, int):
        value = f"{value:,}"
    return f"{value}{unit}"


def _ms(value: Any) -> str:
    return _fmt(value, " ms")


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("**met**" if ok else "**NOT met**")


def _cmp(value: Any, op: str, limit: float) -> bool | None:
    if value is None:
        return None
    return value < limit if op == "<" else value <= limit if op == "<=" else value >= limit


def _verify_row(label: str, verify: dict[str, Any]) -> tuple[Any, ...]:
    """A verify-throughput row: the chain's events/s against its bare floor's, target 0.7×."""
    return (
        label,
        _fmt(_get(verify, "chain", "events_per_s"), " ev/s"),
        _fmt(_get(verify, "floor", "events_per_s"), " ev/s"),
        _fmt(verify.get("chain_vs_floor"), "×"),
        "≥ 0.7× floor",
        _cmp(verify.get("chain_vs_floor"), ">=", 0.7),
    )


def _status_line(scenario: dict[str, Any] | None) -> str | None:
    if scenario is None:
        return "not run in this run"
    if scenario.get("status") != "ok":
        return f"{scenario.get('status')}: {scenario.get('reason')}"
    return None


def _targets(s: dict[str, Any]) -> list[str]:
    step, docs, audit, scale = (s.get(k) or {} for k in ("step_entry", "documents", "audit", "scale"))
    rows = ["| Figure | Measured | Floor (same run) | Ratio | Target | |", "|---|---|---|---|---|---|"]

    def add(name: str, value: str, floor: str, ratio_: str, target: str, ok: bool | None) -> None:
        rows.append(f"| {name} | {value} | {floor} | {ratio_} | {target} | {_met(ok)} |")

    for group, label in (("production", f"argon2 {_argon2_params(step, 'production')}"),
                         ("production_every_signature",
                          f"argon2 {_argon2_params(step, 'production')} at every signature, before"),
                         ("cheap", f"argon2 {_argon2_params(step, 'cheap')}, diagnostic")):  # fmt: skip
        level = _get(step, group, "10")
        floor = _get(step, "floor", "10")
        if level:
            add(
                f"Step entry p95, 10 operators ({label})",
                _ms(_get(level, "all", "p95_ms")),
                _ms(_get(floor, "all", "p95_ms")),
                "—",
                "< 50 ms",
                _cmp(_get(level, "all", "p95_ms"), "<", 50),
            )
            add(
                f"Step entry throughput, 10 operators ({label})",
                _fmt(level["rps"], " req/s"),
                _fmt(_get(floor, "rps"), " req/s"),
                _fmt(level.get("rps_vs_floor"), "×"),
                "≥ 0.5× floor",
                _cmp(level.get("rps_vs_floor"), ">=", 0.5),
            )
    paced = _get(step, "production_paced", "10")
    if paced:
        add(
            f"Step entry p95, 10 operators pausing {step.get('think_s', 1):g} s on average "
            f"(argon2 {_argon2_params(step, 'production')})",
            _ms(_get(paced, "all", "p95_ms")),
            "—",
            "—",
            "< 50 ms",
            _cmp(_get(paced, "all", "p95_ms"), "<", 50),
        )
    if docs.get("status") == "ok":
        add(
            "Certificate of analysis, render p50 (data + PDF/A + signature)",
            _ms(_get(docs, "coa", "total", "p50_ms")),
            _fmt(_get(docs, "floor_minimal_page", "p50_ms"), " ms (1-page)"),
            _fmt(_get(docs, "ratios", "coa_total_p50_vs_minimal_page"), "×"),
            "< 250 ms",
            _cmp(_get(docs, "coa", "total", "p50_ms"), "<", 250),
        )
        add(
            "Executed batch record, render p50 (data + PDF/A + signature)",
            _ms(_get(docs, "batch_record", "total", "p50_ms")),
            _fmt(_get(docs, "floor_plain_table", "p50_ms"), " ms (plain table)"),
            _fmt(_get(docs, "ratios", "batch_record_total_p50_vs_plain_table"), "×"),
            "≤ 1.5× plain table",
            _cmp(_get(docs, "ratios", "batch_record_total_p50_vs_plain_table"), "<=", 1.5),
        )
        add(
            "Executed batch record, WeasyPrint PDF/A step only",
            _ms(_get(docs, "batch_record", "phases", "weasyprint_pdfa", "p50_ms")),
            _fmt(_get(docs, "floor_plain_table", "p50_ms"), " ms (plain table)"),
            _fmt(_get(docs, "ratios", "batch_record_weasyprint_p50_vs_plain_table"), "×"),
            "(diagnostic)",
            None,
        )
        for name, d in (_get(docs, "download") or {}).items():
            add(
                f"Download of a stored document: {name} ({_fmt(d.get('bytes'))} B), first byte p95",
                _ms(d.get("p95_ms")),
                "—",
                "—",
                "< 20 ms",
                _cmp(d.get("p95_ms"), "<", 20),
            )
    if audit.get("status") == "ok":
        for engine in ("postgresql", "sqlite"):
            add(
                f"Audit append, {engine}, 1 event per transaction",
                _fmt(_get(audit, engine, "single", "events_per_s"), " ev/s"),
                "—",
                "—",
                "(reported)",
                None,
            )
        sv = _get(audit, "sqlite_verify") or {}
        add(*_verify_row(f"Verify chain, SQLite ({_fmt(_get(sv, 'chain', 'events'))} events)", sv))
    if scale.get("status") == "ok":
        for key, sc in scale["scales"].items():
            v = sc["verify"]
            add(
                *_verify_row(
                    f"Verify chain, PostgreSQL, {key} ({_fmt(_get(v, 'chain', 'events'))} events), one process", v
                )
            )
            if _get(v, "parallel", "processes_used"):
                add(
                    f"Verify chain, PostgreSQL, {key}, {_get(v, 'parallel', 'jobs')} processes (`flask audit verify`)",
                    _fmt(_get(v, "parallel", "events_per_s"), " ev/s"),
                    _fmt(_get(v, "floor", "events_per_s"), " ev/s"),
                    _fmt(v.get("parallel_vs_floor"), "×"),
                    "(reported)",
                    None,
                )
        last_key = list(scale["scales"])[-1]
        last = scale["scales"][last_key]
        # The time `flask audit verify` takes: its processes where it used them, else its one process.
        used = "parallel" if _get(last, "verify", "parallel", "processes_used") else "chain"
        events = _get(last, "verify", used, "events") or 0
        seconds = _get(last, "verify", used, "seconds")
        rate = _get(last, "verify", used, "events_per_s")
        how = f"{_get(last, 'verify', 'parallel', 'jobs')} processes" if used == "parallel" else "one process"
        if events >= 5_000_000:
            add(
                f"Verify chain of {_fmt(events)} events, {how}: time "
                f"(peak RSS {_fmt(_get(last, 'verify', used, 'peak_rss_mib'), ' MiB')}"
                + (
                    f", each worker ≤ {_fmt(_get(last, 'verify', used, 'worker_peak_rss_mib'), ' MiB')})"
                    if used == "parallel"
                    else ")"
                ),
                _fmt(seconds, " s"),
                _fmt(_get(last, "verify", "floor", "seconds"), " s"),
                "—",
                "< 60 s",
                _cmp(seconds, "<", 60),
            )
        elif rate:
            add(
                f"Verify chain of 5,000,000 events, {how} (EXTRAPOLATED from {_fmt(events)} at {_fmt(rate)} ev/s)",
                _fmt(5_000_000 / rate, " s"),
                "—",
                "—",
                "< 60 s",
                _cmp(5_000_000 / rate, "<", 60),
            )
        for page in PAGES:
            p95 = _get(last, "pages", page, "p95_ms")
            add(
                f"{PAGE_NAMES[page]}, p95 at {last_key}",
                _ms(p95),
                "—",
                f"growth p50 {_fmt(_get(scale, 'growth_p50', page), '×')}, "
                f"p95 {_fmt(_get(scale, 'growth', page), '×')}",
                "< 200 ms, flat growth",
                _cmp(p95, "<", 200),
            )
    return rows


def _argon2_params(step: dict[str, Any], group: str) -> str:
    """The argon2id parameters a step-entry group ran with (older results: what they were then)."""
    measured = _get(step, "argon2_verify", group, "params")
    return measured or {"production": "library default", "cheap": "t=1, m=1024 KiB, p=1"}.get(group, group)


def _step_section(step: dict[str, Any]) -> list[str]:
    out = ["## Step entry under load", ""]
    if (line := _status_line(step)) is not None:
        return [*out, f"Not measured: {line}", ""]
    argon = step.get("argon2_verify", {})
    out += [
        f"gunicorn, {step['workers']} sync workers (= cores), PostgreSQL, template {step['template']}; "
        f"{step['duration_s']:g} s per level, the first {step['warmup_s']:g} s not counted. "
        "Each operator: GET step page "
        "→ POST values + signature (`action=complete`); critical steps: the verifier's GET → POST verify; "
        "a new lot (GET form → POST → GET lot page) when one is done. Every signature re-enters the password; "
        "the server checks it by argon2id once per login session and worker, then against the session's "
        "memory of it (`app/auth/password_memory.py`), except in the run marked 'at every signature'. "
        "One argon2 password check costs here: "
        + "; ".join(f"{k} ({v['params']}) p50 {_ms(v.get('p50_ms'))}" for k, v in argon.items())
        + ".",
        "",
    ]
    out += [
        "| Server | Operators | req/s | vs floor | p50 | p95 | p99 | errors | signed steps/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for group, label in (
        ("floor", "floor: bare Flask + SQLAlchemy INSERT"),
        ("dashboard", "reference: cellbatch's cheapest signed-in page (dashboard GET, no batch rule)"),
        ("production", f"cellbatch, argon2 production ({_argon2_params(step, 'production')})"),
        ("production_paced", f"cellbatch, argon2 production, {step.get('think_s', 1):g} s mean think time"),
        ("production_every_signature", "cellbatch, argon2 production at every signature (no session memory)"),
        ("cheap", f"cellbatch, argon2 cheap ({_argon2_params(step, 'cheap')}, diagnostic)"),
    ):
        for n in map(str, step.get("levels", [])):
            lv = _get(step, group, n)
            if not lv:
                continue
            a = lv["all"]
            signed = "—" if group in ("floor", "dashboard") else _fmt(lv.get("signed_steps_per_s"))
            out.append(
                f"| {label} | {n} | {_fmt(lv['rps'])} | {_fmt(lv.get('rps_vs_floor'), '×')} | "
                f"{_ms(a.get('p50_ms'))} | {_ms(a.get('p95_ms'))} | {_ms(a.get('p99_ms'))} | "
                f"{lv['errors']} | {signed} |"
            )
    out += ["", "Per request kind at 10 operators (p50 / p95):", ""]
    for group in ("production", "production_paced", "production_every_signature", "cheap"):
        kinds = _get(step, group, "10", "by_kind") or {}
        out.append(
            f"- {group}: "
            + "; ".join(f"{k} {_fmt(v.get('p50_ms'))} / {_ms(v.get('p95_ms'))} (n={v['n']})" for k, v in kinds.items())
        )
    counted = step.get("statements_per_request") or {}
    if counted:
        per_kind = "; ".join(f"{k} {_fmt(v['median'])} ({v['min']}–{v['max']})" for k, v in counted.items())
        out += ["", f"SQL statements per request (one operator's loop served in-process; median, min–max): {per_kind}"]
    examples = {
        e
        for g in ("production", "production_every_signature", "cheap")
        for n in map(str, step.get("levels", []))
        for e in (_get(step, g, n, "error_examples") or [])
    }
    if examples:
        out += ["", "Error examples: " + " | ".join(sorted(examples)[:5])]
    return [*out, ""]


def _docs_section(docs: dict[str, Any]) -> list[str]:
    out = ["## Documents", ""]
    if (line := _status_line(docs)) is not None:
        return [*out, f"Not measured: {line}", ""]
    out += [
        f"A whole XS411-DA-NPC lot executed, QC-tested and released through the services (the disposition "
        "itself, which renders and stores the three documents, took "
        f"{_fmt(docs.get('disposition_with_rendering_s'), ' s')}). "
        f"Rendered {docs['repeat']} times each, with the site's signing key configured (PAdES).",
        "",
        "| Document | total p50 | p95 | data | HTML | WeasyPrint PDF/A | PAdES | bytes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in ("coa", "batch_record"):
        d = docs.get(name) or {}
        ph = d.get("phases", {})
        out.append(
            f"| {name} | {_ms(_get(d, 'total', 'p50_ms'))} | {_ms(_get(d, 'total', 'p95_ms'))} | "
            + " | ".join(_ms(_get(ph, p, "p50_ms")) for p in ("data", "html", "weasyprint_pdfa", "pades_sign"))
            + f" | {_fmt(d.get('bytes'))} |"
        )
    fm, ft = docs.get("floor_minimal_page", {}), docs.get("floor_plain_table", {})
    out += [
        f"| floor: minimal one-page document | {_ms(fm.get('p50_ms'))} | {_ms(fm.get('p95_ms'))} | | | | | |",
        f"| floor: plain HTML table, {ft.get('rows')} rows | {_ms(ft.get('p50_ms'))} | "
        f"{_ms(ft.get('p95_ms'))} | | | | | |",
        "",
        "Downloads (stored bytes, streamed in 1 MiB pieces through the real route, as an auditor; each download "
        "is an audit event): time to the first byte, then the whole transfer:",
        "",
    ]
    for name, d in (docs.get("download") or {}).items():
        total = d.get("total") or {}
        out.append(
            f"- {name}: {_fmt(d.get('bytes'))} B, first byte p50 {_ms(d.get('p50_ms'))}, p95 "
            f"{_ms(d.get('p95_ms'))}; whole file p50 {_ms(total.get('p50_ms'))}, p95 {_ms(total.get('p95_ms'))}"
        )
    return [*out, ""]


def _sqlite_parallel(sv: dict[str, Any]) -> str:
    par = sv.get("parallel") or {}
    if not par.get("processes_used"):
        return f"(`verify_chain_parallel` keeps one process below {_fmt(par.get('min_parallel_events'))} events.)"
    return (
        f"In {_fmt(par.get('jobs'))} processes (verify_chain_parallel, as `flask audit verify` runs it): "
        f"{_fmt(par.get('events_per_s'))} ev/s, {_fmt(par.get('seconds'), ' s')} "
        f"({_fmt(sv.get('parallel_vs_chain'), '×')} one process, {_fmt(sv.get('parallel_vs_floor'), '×')} floor); "
        f"peak RSS {_fmt(par.get('peak_rss_mib'), ' MiB')}, "
        f"each worker ≤ {_fmt(par.get('worker_peak_rss_mib'), ' MiB')}."
    )


def _audit_section(audit: dict[str, Any], scale: dict[str, Any]) -> list[str]:
    out = ["## Audit trail", ""]
    if (line := _status_line(audit)) is None:
        out += ["| Engine | mode | events/s | transaction p50 | p95 |", "|---|---|---|---|---|"]
        for engine in ("postgresql", "sqlite"):
            for mode, d in (audit.get(engine) or {}).items():
                if "transaction" in d:
                    out.append(
                        f"| {engine} | {mode} | {_fmt(d['events_per_s'])} | {_ms(_get(d, 'transaction', 'p50_ms'))} | "
                        f"{_ms(_get(d, 'transaction', 'p95_ms'))} |"
                    )
            ok = _get(audit, engine, "chain_after_concurrent_appends", "ok")
            out.append(
                f"| {engine} | chain verified after the concurrent appends | {'unforked' if ok else 'BROKEN'} | | |"
            )
        sv = audit.get("sqlite_verify", {})
        out += [
            "",
            f"SQLite verify of {_fmt(_get(sv, 'chain', 'events'))} events: verify_chain "
            f"{_fmt(_get(sv, 'chain', 'events_per_s'))} ev/s vs bare sqlite3 "
            f"{_fmt(_get(sv, 'floor', 'events_per_s'))} ev/s "
            f"({_fmt(sv.get('chain_vs_floor'), '×')}); peak RSS {_fmt(_get(sv, 'chain', 'peak_rss_mib'), ' MiB')}. "
            + _sqlite_parallel(sv),
            "",
        ]
    else:
        out += [f"Appends not measured: {line}", ""]
    if _status_line(scale) is None:
        out += [
            "PostgreSQL verify on the scale database (each in its own process; peak RSS of that process, and for "
            "the parallel verifier of its largest worker process). One process: `verify_chain` (`--jobs 1`); "
            "parallel: `verify_chain_parallel`, contiguous id ranges verified in worker processes on one "
            "exported snapshot and stitched, as `flask audit verify` runs it by default (one process below "
            f"{_fmt(_get(scale, 'scales', list(scale['scales'])[-1], 'verify', 'parallel', 'min_parallel_events'))} "
            "events).",
            "",
            "| Scale | events | floor ev/s | one process ev/s | ratio | s | peak RSS "
            "| parallel: jobs | ev/s | ratio to floor | s | peak RSS (main / worker) "
            "| `flask audit verify` (all checks) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for key, sc in scale["scales"].items():
            v = sc["verify"]
            par = v.get("parallel") or {}
            cli = v.get("flask_audit_verify", {})
            if "seconds" in cli:
                cli_text = (
                    f"{_fmt(cli['seconds'], ' s')}, exit {cli.get('exit_code')}, "
                    f"{_fmt(cli.get('peak_rss_mib'), ' MiB')}, --jobs {_fmt(cli.get('jobs'))}"
                )
            else:
                cli_text = str(cli["error"])[:80] if cli else "chain only at this size (`BENCH_FULL_VERIFY=1` for all)"
            jobs = f"{_fmt(par.get('jobs'))}" + ("" if par.get("processes_used") else " (one process used)")
            out.append(
                f"| {key} | {_fmt(_get(v, 'chain', 'events'))} | {_fmt(_get(v, 'floor', 'events_per_s'))} | "
                f"{_fmt(_get(v, 'chain', 'events_per_s'))} | {_fmt(v.get('chain_vs_floor'), '×')} | "
                f"{_fmt(_get(v, 'chain', 'seconds'), ' s')} | "
                f"{_fmt(_get(v, 'chain', 'peak_rss_mib'), ' MiB')} | {jobs} | {_fmt(par.get('events_per_s'))} | "
                f"{_fmt(v.get('parallel_vs_floor'), '×')} | {_fmt(par.get('seconds'), ' s')} | "
                f"{_fmt(par.get('peak_rss_mib'), ' MiB')} / {_fmt(par.get('worker_peak_rss_mib'), ' MiB')} | "
                f"{cli_text} |"
            )
        out.append("")
    return out


def _scale_section(scale: dict[str, Any]) -> list[str]:
    out = ["## Scale", ""]
    if (line := _status_line(scale)) is not None:
        return [*out, f"Not measured: {line}", ""]
    out += [
        "| Scale | lots | entries | audit events | signatures | DB size | generate + COPY "
        "| rebuild indexes | analyze |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, sc in scale["scales"].items():
        c, t = sc["counts"], sc["generation"]["timings"]
        out.append(
            f"| {key} | {_fmt(c['lots'])} | {_fmt(c['entries'])} | {_fmt(c['audit_events'])} | "
            f"{_fmt(c['signatures'])} | "
            f"{_fmt(c['database_mib'], ' MiB')} | {_fmt(t['generate_and_copy_s'], ' s')} | "
            f"{_fmt(t['rebuild_indexes_s'], ' s')} | "
            f"{_fmt(t['vacuum_analyze_s'], ' s')} |"
        )
    keys = list(scale["scales"])
    out += [
        "",
        "Pages, one lot each (lots spread over the whole range; in-process requests as a QA user, HTML rendered):",
        "",
        "| Page | " + " | ".join(f"{k} p50 / p95" for k in keys) + " | growth p50 / p95 | SQL statements |",
        "|---|" + "---|" * len(keys) + "---|---|",
    ]
    for page in PAGES:
        cells = [
            f"{_fmt(_get(scale, 'scales', k, 'pages', page, 'p50_ms'))} / "
            f"{_ms(_get(scale, 'scales', k, 'pages', page, 'p95_ms'))}"
            for k in keys
        ]
        stmts = _get(scale, "scales", keys[-1], "plans", page, "statements")
        out.append(
            f"| {PAGE_NAMES[page]} | "
            + " | ".join(cells)
            + f" | {_fmt(_get(scale, 'growth_p50', page), '×')} / {_fmt(_get(scale, 'growth', page), '×')} | {stmts} |"
        )
    out += ["", f"### Query plans at {keys[-1]} (EXPLAIN (ANALYZE, BUFFERS) of every SELECT each page ran)", ""]
    for page in PAGES:
        plan = _get(scale, "scales", keys[-1], "plans", page) or {}
        seq = plan.get("seq_scans_on_big_tables") or []
        out += [
            f"**{PAGE_NAMES[page]}**: {plan.get('statements')} statements, {_ms(plan.get('total_sql_ms'))} of SQL "
            f"execution; sequential scans on big tables: {', '.join(seq) if seq else 'none'}; indexes used: "
            f"{', '.join(plan.get('indexes_used', []))}. Slowest statement:",
            "",
            "```",
        ]
        slowest = (plan.get("slowest") or [{}])[0]
        out += [slowest.get("sql", "").strip()[:600], "", slowest.get("plan", "").strip(), "```", ""]
    return out


def _fixes_section(s: dict[str, Any], before: dict[str, Any] | None) -> list[str]:
    out = ["## Fixes (before → after)", ""]
    if before is None:
        return [*out, "No before-fixes measurement on record.", ""]
    scale = s.get("scale") or {}
    out += [
        f"Before ([before-fixes.json](before-fixes.json)): {before.get('note', '')} After: this run.",
        "",
        "| Change | Figure | Before p50 / p95 | After p50 / p95 | SQL statements before → after |",
        "|---|---|---|---|---|",
    ]
    for files, what, page in FIXES:
        for key in before.get("pages") or {}:
            b = before["pages"][key].get(page)
            a = _get(scale, "scales", key, "pages", page) or {}
            if b is None:
                continue
            sb = _get(before, "statements", key, page)
            sa = _get(scale, "scales", key, "plans", page, "statements")
            out.append(
                f"| {what} ({files}) | {PAGE_NAMES[page]}, {key} | {_fmt(b.get('p50_ms'))} / {_ms(b.get('p95_ms'))} | "
                f"{_fmt(a.get('p50_ms'))} / {_ms(a.get('p95_ms'))} | {sb} → {sa} |"
            )
    for key, b in (before.get("verify") or {}).items():
        a = _get(scale, "scales", key, "verify") or {}
        cli = a.get("flask_audit_verify") or {}
        out.append(
            f"| `verify_rows` reads columns by position and hashes with one prebuilt JSON encoder (was a dict copy "
            f"of every row and a new encoder per event) (app/audit/chain.py) | verify_chain, {key}: ev/s "
            f"(ratio to floor) | {_fmt(b['chain_events_per_s'])} ({_fmt(b['chain_vs_floor'], '×')}) | "
            f"{_fmt(_get(a, 'chain', 'events_per_s'))} ({_fmt(a.get('chain_vs_floor'), '×')}) | |"
        )
        out.append(
            f"| (`flask audit verify`, every check) | whole command, {key}: seconds, peak RSS | "
            f"{_fmt(b['flask_audit_verify_seconds'], ' s')}, {_fmt(b['flask_audit_verify_peak_rss_mib'], ' MiB')} | "
            + (
                f"{_fmt(cli.get('seconds'), ' s')}, {_fmt(cli.get('peak_rss_mib'), ' MiB')}"
                if cli.get("seconds")
                else "not run at this size"
            )
            + " | |"
        )
    same = before.get("same_load")
    if same:
        out += [
            "",
            "Before and after above ran at different machine load (see the load averages), so their times are "
            f"not comparable one to one; statements and SQL time are. Same load: {same['note']}",
            "",
            "| Page (10x) | A: before | B: signatures fixed | C: all fixes | statements A → B → C | SQL ms A → B → C |",
            "|---|---|---|---|---|---|",
        ]
        for row in same["rows"]:
            cells = [row.get(k) or {} for k in ("A", "B", "C")]
            out.append(
                f"| {PAGE_NAMES[row['page']]} | "
                + " | ".join(f"{_fmt(c.get('p50_ms'))} / {_ms(c.get('p95_ms'))}" if c else "—" for c in cells)
                + " | "
                + " → ".join(_fmt(c.get("statements")) for c in cells)
                + " | "
                + " → ".join(_fmt(c.get("sql_ms")) for c in cells)
                + " |"
            )
    return [*out, ""]


def write_summary(results: dict[str, Any], path: Path) -> None:
    s = results["scenarios"]
    before_file = RESULTS / "before-fixes.json"
    before = json.loads(before_file.read_text()) if before_file.exists() else None
    m, m2 = results["machine_before"], results.get("machine_after", {})
    lines = [
        "# Benchmark results (issue #10)",
        "",
        f"Generated {results['generated_at']} by `python -m benchmarks` (size `{results['size']}`, "
        f"commit {results['git']['commit']} "
        f"with {results['git']['dirty_files']} uncommitted files). Time per scenario: "
        + ", ".join(
            f"{name} {_fmt(sc.get('seconds'), ' s')} "
            f"(load average after {_fmt((sc.get('load_avg_after') or [None])[0])})"
            for name, sc in s.items()
        )
        + ". Raw numbers: [latest.json](latest.json); how each is measured: [benchmarks/README.md](../README.md).",
        "",
        f"Machine: {m['cpus']} cores, {m['mem_total_gib']} GiB ({m['mem_available_gib']} GiB available), "
        f"PostgreSQL {m.get('postgresql')} (shared_buffers {m.get('pg_shared_buffers')}), Python {m['python']}, "
        f"libharfbuzz-subset: {m.get('libharfbuzz_subset') or 'missing'}. CPU calibration (fixed workload) "
        f"{_ms(m.get('cpu_calibration_ms'))} before, {_ms(m2.get('cpu_calibration_ms'))} after. "
        f"Load average before {m['load_avg']}, after "
        f"{m2.get('load_avg')}: other work shared the 2 cores during the run, so absolute times are pessimistic; "
        "every floor was measured in the same run, under the same load.",
        "",
        "## Targets",
        "",
        *_targets(s),
        "",
        *_fixes_section(s, before),
        *_step_section(s.get("step_entry")),
        *_docs_section(s.get("documents") or {"status": "not run", "reason": "not run in this run"}),
        *_audit_section(
            s.get("audit") or {"status": "not run", "reason": "-"}, s.get("scale") or {"status": "not run"}
        ),
        *_scale_section(s.get("scale") or {"status": "not run", "reason": "not run in this run"}),
    ]
    notes = RESULTS.parent / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    write_summary(json.loads((RESULTS / "latest.json").read_text()), RESULTS / "summary.md")
