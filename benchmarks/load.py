"""A bounded load client (stdlib http.client, threads) and gunicorn servers, on 127.0.0.1 only.

Every loop stops at a deadline and after a maximum number of requests; the only address ever
contacted is the loopback server this module started itself.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from benchmarks.common import ROOT, VENV_BIN, log

HOST = "127.0.0.1"  # never anything else
#: Hard bounds of any one load run, whatever the caller asks.
MAX_SECONDS = 120
MAX_REQUESTS = 200_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """A gunicorn process serving `target` (module:callable) on a loopback port."""

    def __init__(self, target: str, env: dict[str, str], workers: int | None = None, log_path: Path | None = None):
        self.port = free_port()
        self.workers = workers or os.cpu_count() or 2
        self.log_path = log_path or (ROOT / "benchmarks" / "results" / f"gunicorn-{self.port}.tmp")
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        command = [
            str(VENV_BIN / "gunicorn"),
            "--bind",
            f"{HOST}:{self.port}",
            "--workers",
            str(self.workers),
            "--worker-class",
            "sync",
            "--timeout",
            "120",
            "--log-level",
            "warning",
            target,
        ]
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments, bench only
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # our own gunicorn's process group only
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str
    seconds: float


class Browser:
    """One user's cookie jar over fresh loopback connections (gunicorn sync workers close them)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, fields: dict[str, str] | None = None) -> Response:
        body = urlencode(fields) if fields is not None else None
        headers = {"Host": f"{HOST}:{self.port}", "Connection": "close"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        start = time.perf_counter()
        connection = http.client.HTTPConnection(HOST, self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers)
            raw = connection.getresponse()
            data = raw.read()
            elapsed = time.perf_counter() - start
        except (OSError, http.client.HTTPException) as exc:  # a failed request counts as an error, not as nothing
            connection.close()
            return Response(0, {}, f"{type(exc).__name__}: {exc}", time.perf_counter() - start)
        try:
            for value in raw.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(value).items():
                    self.cookies[name] = morsel.value
            return Response(raw.status, dict(raw.headers.items()), data.decode("utf-8", "replace"), elapsed)
        finally:
            connection.close()

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, fields: dict[str, str]) -> Response:
        return self.request("POST", path, fields)


class InProcessBrowser:
    """Browser's interface over Flask's test client: the same requests, served in this process
    (so that a listener here sees what each request does, e.g. its SQL statements)."""

    def __init__(self, app: Any) -> None:
        self.client = app.test_client()

    def request(self, method: str, path: str, fields: dict[str, str] | None = None) -> Response:
        start = time.perf_counter()
        reply = self.client.open(path, method=method, data=fields)
        body = reply.get_data(as_text=True)
        return Response(reply.status_code, dict(reply.headers.items()), body, time.perf_counter() - start)

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, fields: dict[str, str]) -> Response:
        return self.request("POST", path, fields)


_INPUT = re.compile(r"<input\b[^>]*>", re.I)


def hidden_value(html: str, name: str, nth: int = 0) -> str | None:
    """The value of the nth <input name=...> of a page (negative: from the end)."""
    found = [tag for tag in _INPUT.findall(html) if f'name="{name}"' in tag]
    if not -len(found) <= nth < len(found):
        return None
    match = re.search(r'value="([^"]*)"', found[nth])
    return match.group(1) if match else None


@dataclass
class Sample:
    kind: str
    seconds: float
    ok: bool
    started: float
    status: int = 0
    note: str = ""


@dataclass
class Recorder:
    """Thread-safe list of samples."""

    samples: list[Sample] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)


def run_threads(workers: list[Any], seconds: float, max_requests: int) -> tuple[Recorder, float]:
    """Run worker(recorder, deadline, budget) in one thread each until the deadline; wall time."""
    seconds = min(seconds, MAX_SECONDS)
    recorder = Recorder()
    budget = threading.Semaphore(min(max_requests, MAX_REQUESTS))
    start = time.perf_counter()
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=w, args=(recorder, deadline, budget), daemon=True) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 90)
    if any(t.is_alive() for t in threads):
        log("some load threads did not stop in time")
    return recorder, time.perf_counter() - start
