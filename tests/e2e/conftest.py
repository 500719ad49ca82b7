"""Browser tests: the real app served on 127.0.0.1 (fresh SQLite instance) driven by Chromium.

Playwright's Python package drives Debian's Chromium (/usr/bin/chromium; browser downloads
are impossible on our machines). Without it the tests skip with the reason, unless
CELLBATCH_REQUIRE_BROWSER=1 (set by .ci/run), where a missing browser is a failure.
They run in the SQLite pass only: the PostgreSQL pass (CELLBATCH_TEST_DATABASE_URL) skips
them, since the server's database is its own fresh SQLite file either way.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("CELLBATCH_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-sync"]  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).parent / "screenshots"
PASSWORD = "cellbatch-demo-2026"  # noqa: S105 - the documented demo password


def _unavailable() -> str | None:
    """Why the browser tests cannot run here (None: they can)."""
    if not CHROMIUM.exists():
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (make setup)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    e2e = [item for item in items if "e2e" in item.keywords]
    if not e2e:
        return
    if os.environ.get("CELLBATCH_TEST_DATABASE_URL"):
        reason = "browser tests run in the SQLite pass"
    else:
        reason = _unavailable()
        if reason and os.environ.get("CELLBATCH_REQUIRE_BROWSER") == "1":
            raise pytest.UsageError(f"CELLBATCH_REQUIRE_BROWSER=1 but {reason}")
    if reason:
        for item in e2e:
            item.add_marker(pytest.mark.skip(reason=reason))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Prepare a fresh instance (tests/e2e/prepare.py), serve it, stop it at the end."""
    instance = tmp_path_factory.mktemp("e2e-instance")
    env = {**os.environ, "CELLBATCH_INSTANCE_PATH": str(instance), "CELLBATCH_ENV": "development",
           "FLASK_APP": "app:create_app", "PYTHONPATH": str(ROOT)}  # fmt: skip
    env.pop("CELLBATCH_DATABASE_URL", None)  # always a fresh SQLite file in the instance folder
    prepared = subprocess.run([sys.executable, "-m", "tests.e2e.prepare"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
    if prepared.returncode != 0:
        pytest.fail(f"tests/e2e/prepare.py failed:\n{prepared.stdout}\n{prepared.stderr}")
    info = json.loads(prepared.stdout.strip().splitlines()[-1])
    port = _free_port()
    log = (instance / "server.log").open("w")
    command = [sys.executable, "-m", "flask", "run", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/login", timeout=1)  # noqa: S310 - our own server
                break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(f"the server exited: {(instance / 'server.log').read_text()}")
                time.sleep(0.1)
        else:
            pytest.fail("the server did not answer within 30 s")
        yield {"base": base, "instance": instance, **info}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def browser(server: dict) -> Iterator:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        chromium.close()
