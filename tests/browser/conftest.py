"""Real-browser tests: the portal served by waitress on loopback, driven in headless Chromium.

What the fixtures give (reuse them for new browser flows):

* `portal_server` (session): the app on a free 127.0.0.1 port with a SQLite database of its own,
  built by running the migrations and loading the units (a browser cannot share the rolled-back
  transaction of the WebTest fixtures), and the accounts `editor` (黄梅镇), `reviewer`, `manager`
  with `tests.conftest.PASSWORD`. `portal_server.url(path)`; `portal_server.requests` logs every
  request the app saw (method, path, status), so a test can assert a marker URL was never asked
  for; `portal_server.transaction()` is a session committed at the end of the block, and
  `portal_server.blobs` its blob store, for content a test writes directly.
* `browser` (session): Chromium, Debian's package (`/usr/bin/chromium`), through Playwright for
  Python. Never `playwright install`: that downloads a browser build, which cannot work here.
  When Chromium is missing and we are root it is installed with apt, as tests/pgserver.py does
  for PostgreSQL. With CI=true a missing browser is a failure; elsewhere the tests are skipped with
  the reason printed, and only if it cannot be installed.
* `page` (per test): a fresh browser context and page on the server; `page_log` collects what went
  wrong in it: console errors, uncaught exceptions, failed requests, responses >= 400, and the
  Content-Security-Policy violations among the console errors.
* `log_in(page, login)`: logs in through the login form.

The browser tests run in the SQLite half of `make test` only (they use a database of their own
whatever `--db` says, so running them twice would test nothing new): with `--db=postgresql` they
are deselected.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
import transaction

from tests.conftest import PASSWORD

BROWSER_DIR = Path(__file__).resolve().parent
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ENV_VAR = "PORTAL_TEST_CHROMIUM"  # another Chromium binary, if wanted


def _log(message: str) -> None:
    print(f"[browser] {message}", file=sys.stderr, flush=True)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


# -- pytest wiring ----------------------------------------------------------------------------------

def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "browser: drives a real Chromium against the running portal")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Mark the tests of this folder; leave them out of the PostgreSQL half (see the docstring)."""
    mine = [item for item in items if BROWSER_DIR in Path(str(item.fspath)).parents]
    for item in mine:
        item.add_marker(pytest.mark.browser)
    if mine and config.getoption("--db") == "postgresql":
        keep = [item for item in items if item not in mine]
        config.hook.pytest_deselected(items=mine)
        items[:] = keep


# -- the browser binary ------------------------------------------------------------------------------

def find_chromium() -> str | None:
    override = os.environ.get(CHROMIUM_ENV_VAR)
    if override:
        return override if os.access(override, os.X_OK) else None
    for candidate in CHROMIUM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


def _install_with_apt() -> None:
    """`apt-get install -y chromium`; when that fails, `apt-get update` and once more."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "chromium"]
    for attempt in (install, ["apt-get", "update"], install):
        _log("Chromium not found; running: " + " ".join(attempt))
        try:  # apt's output goes to our stderr (fd 2) so CI logs show it
            result = subprocess.run(attempt, env=env, stdin=subprocess.DEVNULL, stdout=2, stderr=2)
        except FileNotFoundError as exc:
            raise RuntimeError("Chromium is missing and apt-get is not available to install it; install "
                               f"Chromium or point {CHROMIUM_ENV_VAR} at one") from exc
        if result.returncode == 0 and attempt is install and find_chromium():
            return
    raise RuntimeError("`apt-get install chromium` failed (see its output above); install Chromium or point "
                       f"{CHROMIUM_ENV_VAR} at one")


def ensure_chromium() -> str:
    """The Chromium binary, installed with apt when missing and we are root; RuntimeError otherwise."""
    found = find_chromium()
    if found:
        return found
    if os.environ.get(CHROMIUM_ENV_VAR):
        raise RuntimeError(f"{CHROMIUM_ENV_VAR}={os.environ[CHROMIUM_ENV_VAR]} is not an executable")
    if os.geteuid() != 0:
        raise RuntimeError("Chromium is not installed (looked for " + ", ".join(CHROMIUM_CANDIDATES) +
                           "); install it, e.g. `sudo apt-get install chromium` on Debian")
    _install_with_apt()
    found = find_chromium()
    if not found:
        raise RuntimeError("apt-get installed chromium but no chromium binary was found")
    _log(f"installed Chromium: {found}")
    return found


def unavailable(reason: str) -> None:
    """In CI a missing browser fails the test; elsewhere it skips it, saying why."""
    if in_ci():
        pytest.fail(f"browser tests cannot run: {reason}", pytrace=False)
    _log(f"skipping the browser tests: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    try:
        return ensure_chromium()
    except RuntimeError as exc:
        unavailable(str(exc))
        raise  # not reached


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the Python package `playwright` is not installed (pip install -e '.[test]')")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Any, chromium_executable: str) -> Iterator[Any]:
    # As root Chromium refuses to start without --no-sandbox (CI runs as root).
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    browser = playwright_driver.chromium.launch(executable_path=chromium_executable, args=args, headless=True)
    yield browser
    browser.close()


# -- the server --------------------------------------------------------------------------------------

@dataclass
class PortalServer:
    """The portal served on loopback for the browser; see the module docstring."""

    base_url: str
    app: Any
    blobs: Any
    requests: list[tuple[str, str, int]] = field(default_factory=list)

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def requested(self, fragment: str) -> list[tuple[str, str, int]]:
        return [r for r in self.requests if fragment in r[1]]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """A session of the server's database, committed at the end of the block."""
        from pyramid.threadlocal import manager

        from portal.models import get_tm_session

        tm = transaction.TransactionManager(explicit=True)
        manager.push({"registry": self.app.registry, "request": None})
        try:
            with tm:
                yield get_tm_session(self.app.registry["dbsession_factory"], tm)
        finally:
            manager.pop()


class RequestLog:
    """WSGI middleware: every request the app answers, with its status."""

    def __init__(self, app: Any, log: list[tuple[str, str, int]]) -> None:
        self.app = app
        self.log = log

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING")
        target = f"{path}?{query}" if query else path

        def start(status: str, headers: Any, exc_info: Any = None) -> Any:
            self.log.append((method, target, int(status.split()[0])))
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


@pytest.fixture(scope="session")
def portal_server(tmp_path_factory: Any) -> Iterator[PortalServer]:
    from waitress import wasyncore
    from waitress.server import create_server

    from portal import main
    from portal.accounts import add_user
    from portal.blobs import BlobStore
    from portal.cli import app_request
    from portal.migrate import upgrade
    from portal.models import get_engine
    from portal.units import set_up_site
    from tests.conftest import test_settings

    base = tmp_path_factory.mktemp("browser-portal")
    settings = test_settings(f"sqlite:///{base / 'portal.db'}", base / "blobs", base / "index")
    engine = get_engine(settings)
    upgrade(engine)
    app = main({}, **{**settings, "portal.engine": engine})
    with app_request(app.registry) as request:
        session = request.dbsession
        set_up_site(request)
        add_user(session, "editor", PASSWORD, [], ["黄梅镇"])
        add_user(session, "reviewer", PASSWORD, ["reviewers"], [])
        add_user(session, "manager", PASSWORD, ["managers"], [])

    log: list[tuple[str, str, int]] = []
    server = create_server(RequestLog(app, log), host="127.0.0.1", port=0, threads=4, ident="portal-test")
    thread = threading.Thread(target=server.run, name="portal-browser-server", daemon=True)
    thread.start()
    try:
        yield PortalServer(f"http://127.0.0.1:{server.effective_port}", app, BlobStore(settings["portal.blobs_dir"]),
                           log)
    finally:
        server.close()
        server.task_dispatcher.shutdown()
        wasyncore.close_all(server._map)
        thread.join(timeout=10)
        engine.dispose()


# -- pages and what went wrong in them ---------------------------------------------------------------

@dataclass
class PageLog:
    """What went wrong in one page: read it in the test's assertions."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)  # network failures and responses >= 400
    responses: list[Any] = field(default_factory=list)  # every response, with the headers it had

    @property
    def csp_violations(self) -> list[str]:
        return [m for m in self.console_errors if "Content Security Policy" in m]

    def clear(self) -> None:
        for items in (self.console_errors, self.page_errors, self.failed_requests, self.responses):
            items.clear()

    def attach(self, page: Any) -> None:
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        page.on("requestfailed", lambda r: self.failed_requests.append(f"{r.url}: {r.failure}"))
        page.on("response", self._response)

    def _response(self, response: Any) -> None:
        self.responses.append(response)
        if response.status >= 400:
            self.failed_requests.append(f"{response.url}: {response.status}")


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture
def context(browser: Any, portal_server: PortalServer) -> Iterator[Any]:
    context = browser.new_context(base_url=portal_server.base_url, locale="zh-CN", accept_downloads=True)
    yield context
    context.close()


@pytest.fixture
def page(context: Any, page_log: PageLog) -> Any:
    page = context.new_page()
    page_log.attach(page)
    return page


def log_in(page: Any, login: str, password: str = PASSWORD) -> None:
    """Log in through the login form, as a person would."""
    page.goto("/@@login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.locator("form[action$='/@@login'] button[type=submit]").click()
    assert "@@login" not in page.url, f"login as {login} failed: {page.url}"
