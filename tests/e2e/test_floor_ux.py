"""Shop-floor UX and accessibility: axe-core, keyboard-only signing, tablet and phone widths.

Runs on the lot that tests/e2e/prepare.py left with UP7 to do; it reads pages and signs
nothing that the lifecycle test needs (the keyboard test saves values only, no signature),
so the two tests can run in either order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import PASSWORD, SCREENSHOTS

pytestmark = pytest.mark.e2e
VIEWPORTS = {"tablet": {"width": 1024, "height": 768}, "phone": {"width": 390, "height": 844}}


def _axe_source() -> str:
    import axe_playwright_python

    return str(Path(axe_playwright_python.__file__).with_name("axe.min.js"))


def _login(browser, server: dict, username: str, viewport: dict | None = None, bypass_csp: bool = False):
    # axe is injected as a script tag: only the accessibility context bypasses the CSP for it.
    context = browser.new_context(base_url=server["base"], viewport=viewport or VIEWPORTS["tablet"],
                                  bypass_csp=bypass_csp)  # fmt: skip
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    return page


def _violations(page) -> list[str]:
    page.add_script_tag(path=_axe_source())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    assert result["passes"], "axe-core did not run"
    return [f"{v['id']} ({v['impact']}): {v['help']} at " + ", ".join(n["target"][0] for n in v["nodes"][:3])
            for v in result["violations"]]  # fmt: skip


def _step_url(page, server: dict) -> str:
    page.goto(f"/lots/{server['lot_id']}")
    return page.locator("a", has_text="Open step").first.get_attribute("href")


@pytest.mark.req("URS-EXE-016")
def test_axe_finds_no_violations(browser, server):
    """The lot page, the step form with its signing dialog, the verification dialog, the QA review."""
    operator = _login(browser, server, "op.olivia", bypass_csp=True)
    qa = _login(browser, server, "qa.alex", bypass_csp=True)
    pages = {"lot": (operator, f"/lots/{server['lot_id']}"), "step-and-signing-dialog": (operator, None),
             "release-review": (qa, f"/release/lots/{server['lot_id']}"),
             "deviations": (qa, "/deviations/"), "verify": (qa, "/verify")}  # fmt: skip
    found = {}
    for name, (page, url) in pages.items():
        page.goto(url or _step_url(page, server))
        page.wait_for_load_state()
        page.screenshot(path=str(SCREENSHOTS / f"axe-{name}.png"), full_page=True)
        if problems := _violations(page):
            found[name] = problems
    assert not found, "axe-core violations:\n" + "\n".join(f"{k}: {p}" for k, v in found.items() for p in v)


@pytest.mark.req("URS-EXE-016")
def test_step_form_and_signing_dialog_by_keyboard_only(browser, server):
    """Tab to each field, type, and submit with Enter/Space: no mouse."""
    page = _login(browser, server, "op.oscar")
    page.goto(_step_url(page, server))
    page.locator("body").focus()
    seen = []
    for _ in range(60):
        page.keyboard.press("Tab")
        name = page.evaluate("document.activeElement.name || document.activeElement.textContent.trim()")
        seen.append(name)
        if name == "sig_username":
            break
    assert "sig_username" in seen, f"the signing dialog is not reachable by Tab: {seen}"
    assert seen.index("action") < seen.index("sig_username")  # "Save values" comes before the dialog
    page.keyboard.type("op.oscar")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "sig_password"
    page.keyboard.type(PASSWORD)
    for _ in range(5):  # to the submit button of the dialog
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.value") == "complete":
            break
    page.screenshot(path=str(SCREENSHOTS / "keyboard-signing-dialog.png"), full_page=True)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    # Submitted, and refused because the step's values are missing: each message at its field.
    page.screenshot(path=str(SCREENSHOTS / "keyboard-signing-refused.png"), full_page=True)
    assert page.locator(".field-error .error").count() >= 1, page.locator("main").inner_text()[:2000]
    focus_ring = page.evaluate("""() => { const b = document.querySelector('.btn'); b.focus();
        const s = getComputedStyle(b); return s.outlineStyle !== 'none' || s.boxShadow !== 'none'; }""")
    assert focus_ring, "buttons have no visible keyboard focus"


@pytest.mark.req("URS-EXE-016")
@pytest.mark.parametrize("device", VIEWPORTS)
def test_pages_fit_tablet_and_phone(browser, server, device):
    page = _login(browser, server, "op.olivia", viewport=VIEWPORTS[device])
    for name, url in (("lot", f"/lots/{server['lot_id']}"), ("step", None)):
        page.goto(url or _step_url(page, server))
        page.screenshot(path=str(SCREENSHOTS / f"{device}-{name}.png"), full_page=True)
        overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} page overflows the {device} width by {overflow}px"
        small = page.evaluate("""() => Array.from(document.querySelectorAll(
              'main button, main input:not([type=hidden]), main select, main a.btn'))
            .filter(e => e.offsetParent !== null)
            .map(e => [e, /radio|checkbox/.test(e.type) ? (e.closest('label') || e.labels[0]) : e])
            .map(([e, t]) => [e.name || e.id || e.textContent.trim(), t ? t.getBoundingClientRect().height : 0])
            .filter(([, h]) => h < 44)""")
        assert not small, f"touch targets under 44 px on the {device} {name} page: {small}"
