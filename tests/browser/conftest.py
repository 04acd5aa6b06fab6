"""A real server and a real browser: the app run by `flask run` in a subprocess on its own
SQLite database with the demo data, and Debian's chromium driven by Playwright.

The server takes about ten seconds to prepare (migrations, curricula, demo data), so it is
started as soon as the tests are collected and the browser tests run last: on a full run it
gets ready while the rest of the suite runs."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Settings of the suite's own database and services that the server must not share.
NOT_INHERITED = {"INTERVENTION_DATABASE_URL", "INTERVENTION_CURRICULA", "INTERVENTION_REDIS_URL"}
START_TIMEOUT = 120  # seconds, for migrations, curricula and demo data on a slow machine


class LiveServer:
    """`flask db upgrade`, `curriculum sync`, `seed-demo`, then `flask run`, one after the
    other in one process group of their own, on a temporary instance folder."""

    def __init__(self) -> None:
        self.instance = Path(tempfile.mkdtemp(prefix="intervention-browser-"))
        self.log_path = self.instance / "server.log"
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        steps = [
            _flask("db", "upgrade"),
            _flask("curriculum", "sync"),
            _flask("seed-demo"),
        ]
        serve = _flask("run", "--host", "127.0.0.1", "--port", str(self.port), "--no-reload")
        script = " && ".join(shlex.join(step) for step in steps) + " && exec " + shlex.join(serve)
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            ["sh", "-c", script],
            cwd=ROOT,
            env=_server_env(self.instance),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() ends every step
        )

    def wait_until_up(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the test server stopped:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return self.base
            except OSError:
                time.sleep(0.1)
        pytest.fail(f"no answer from {self.base}/healthz:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.instance, ignore_errors=True)


_server: LiveServer | None = None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(instance: Path) -> dict[str, str]:
    """The environment of `make run`, with a database of its own: never the suite's database,
    even when the suite runs on PostgreSQL."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env.update(
        INTERVENTION_INSTANCE=str(instance),
        INTERVENTION_ENV="development",
        FLASK_DEBUG="0",
        PYTHONUNBUFFERED="1",
    )
    return env


def _flask(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "intervention", *args]


def _is_browser_test(item) -> bool:
    return HERE in Path(str(item.path)).parents


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected what they will
def pytest_collection_modifyitems(session, config, items):
    global _server
    browser_tests = [item for item in items if _is_browser_test(item)]
    if not browser_tests or config.option.collectonly:
        return
    items[:] = [item for item in items if not _is_browser_test(item)] + browser_tests
    _server = LiveServer()


def pytest_sessionfinish(session, exitstatus):
    if _server is not None:
        _server.stop()


@pytest.fixture(scope="session")
def live_server() -> str:
    """Base URL of the running server with the demo data."""
    assert _server is not None, "the server starts when browser tests are collected"
    return _server.wait_until_up()


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, required: `make test` installs it first (make browser-deps)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing. Browser tests need Debian's chromium: run "
            "`make browser-deps` (as root it installs it; otherwise it says what to install)."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


PHONE = {"width": 390, "height": 844}
WAIT_MS = 15_000  # the editor saves 3 s after the last key press; slow machines


@pytest.fixture(scope="session")
def signed_in(live_server, browser, tmp_path_factory):
    """The saved cookies of a demo account, signed in once per run. The server limits sign-in
    to 10 attempts per address in 15 minutes, as in production, and every test runs from the
    same address: tests that are not about signing in start already signed in."""
    from .support import sign_in

    folder = tmp_path_factory.mktemp("signed-in")
    states: dict[str, str] = {}

    def state_of(email: str) -> str:
        if email not in states:
            context = browser.new_context()
            sign_in(context.new_page(), live_server, email)
            states[email] = str(folder / f"{email}.json")
            context.storage_state(path=states[email])
            context.close()
        return states[email]

    return state_of


@pytest.fixture
def new_context(browser, signed_in):
    """Opens browser contexts, one per person in a test (as `user`, already signed in, or
    signed out), on a phone-sized screen unless told otherwise; closes them afterwards."""
    opened = []

    def open_context(user: str | None = None, viewport=PHONE, **options):
        if user is not None:
            options["storage_state"] = signed_in(user)
        context = browser.new_context(viewport=viewport, **options)
        context.set_default_timeout(WAIT_MS)
        opened.append(context)
        return context

    yield open_context
    for context in opened:
        context.close()
