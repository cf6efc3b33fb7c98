"""Real-browser tests: the portal served by waitress on loopback, driven in headless Chromium.

What the fixtures give (reuse them for new browser flows):

* `portal_server` (session): the app on a free 127.0.0.1 port with a SQLite database of its own,
  built by running the migrations and loading the units (a browser cannot share the rolled-back
  transaction of the WebTest fixtures), and the accounts `editor` (黄梅镇), `reviewer`, `manager`
  with `tests.conftest.PASSWORD`. `portal_server.url(path)`; `portal_server.requests` logs every
  request the app saw (method, path, status), so a test can assert a marker URL was never asked
  for; `portal_server.transaction()` is a session committed at the end of the block, and
  `portal_server.blobs` its blob store, for content a test writes directly. `demo_server` (session)
  is another such server with the demo content of `make run` (the visitor's tests).
* `browser` (session): Chromium, Debian's package (`/usr/bin/chromium`), through Playwright for
  Python. Never `playwright install`: that downloads a browser build, which cannot work here.
  When Chromium is missing and we are root it is installed with apt, as tests/pgserver.py does
  for PostgreSQL. With CI=true a missing browser is a failure; elsewhere the tests are skipped with
  the reason printed, and only if it cannot be installed.
* `page` (per test): a fresh browser context and page on the server; `page_log` collects what went
  wrong in it: console errors, uncaught exceptions, failed requests, responses >= 400, and the
  Content-Security-Policy violations among the console errors.
* `log_in(page, login)`: logs in through the login form; a reviewer or manager, who must use a
  second factor, enrols at the first login (the key read off the page, codes from pyotp).
* `visit_checks(page, step)` (per test): the checks of every page a flow visits -- screenshots at
  1366x900 and 390x844 under `var/screenshots/<test>/<nn>-<step>-<width>.png` (rewritten on every
  run), axe-core with no critical or serious violation (tests/browser/axe.py), and nothing wrong in
  the page's log since the last step. `visit_checks.new_page(login)` opens another person's page
  (a context of its own, logged in unless `login` is None) whose log it checks the same way.
* `other_editor` is an editor of 孔垄镇, for what another unit's editor may not do; `reviewer` is
  named 县政府办审核员 and `editor` 黄梅镇信息员, so pages show display names.

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
from tests.services import in_ci, sqlite_half_only

BROWSER_DIR = Path(__file__).resolve().parent
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ENV_VAR = "PORTAL_TEST_CHROMIUM"  # another Chromium binary, if wanted


def _log(message: str) -> None:
    print(f"[browser] {message}", file=sys.stderr, flush=True)


# -- pytest wiring ----------------------------------------------------------------------------------

def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "browser: drives a real Chromium against the running portal")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Mark the tests of this folder; leave them out of the PostgreSQL half (see the docstring)."""
    sqlite_half_only(config, items, BROWSER_DIR, "browser")


# -- the browser binary ------------------------------------------------------------------------------

def find_chromium() -> str | None:
    override = os.environ.get(CHROMIUM_ENV_VAR)
    if override:
        return override if os.access(override, os.X_OK) else None
    for candidate in CHROMIUM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


def _install_with_apt(package: str = "chromium", found: Any = None) -> None:
    """`apt-get install -y PACKAGE`; when that fails, `apt-get update` and once more. `found()` says
    whether it is there now (default: Chromium)."""
    found = found or find_chromium
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # another apt run (a second test session, CI's set-up) holds the lock: wait for it
    install = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", package]
    for attempt in (install, ["apt-get", "-o", "DPkg::Lock::Timeout=600", "update"], install):
        _log(f"{package} not found; running: " + " ".join(attempt))
        try:  # apt's output goes to our stderr (fd 2) so CI logs show it
            result = subprocess.run(attempt, env=env, stdin=subprocess.DEVNULL, stdout=2, stderr=2)
        except FileNotFoundError as exc:
            raise RuntimeError(f"{package} is missing and apt-get is not available to install it") from exc
        if result.returncode == 0 and attempt is install and found():
            return
    raise RuntimeError(f"`apt-get install {package}` failed (see its output above)")


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
    try:
        _install_with_apt()
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}; install Chromium or point {CHROMIUM_ENV_VAR} at one") from None
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


def has_cjk_font() -> bool:
    try:
        listed = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return False
    return bool(listed.strip())


def ensure_cjk_font() -> None:
    """Chinese glyphs for the screenshots (Debian's fonts-noto-cjk): without a CJK font every
    character is drawn as an empty box. Pages work either way, so a missing font is only said."""
    if has_cjk_font():
        return
    if os.geteuid() == 0:
        try:
            _install_with_apt("fonts-noto-cjk", has_cjk_font)
            return
        except RuntimeError as exc:
            _log(str(exc))
    _log("no CJK font (apt-get install fonts-noto-cjk): screenshots will show boxes for Chinese text")


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    try:
        found = ensure_chromium()
    except RuntimeError as exc:
        unavailable(str(exc))
        raise  # not reached
    ensure_cjk_font()
    return found


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
    # --lang: the browser's own widgets (file picker, date fields) speak Chinese, as the users' do
    args = ["--lang=zh-CN"] + (["--no-sandbox"] if os.geteuid() == 0 else [])
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


@contextlib.contextmanager
def serve_portal(base: Path, demo: bool = False) -> Iterator[PortalServer]:
    """The portal on a free loopback port with a database of its own under `base`: migrated, the
    units loaded, the test accounts added, and with `demo` the demo content of `make run`."""
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

    settings = test_settings(f"sqlite:///{base / 'portal.db'}", base / "blobs", base / "index")
    engine = get_engine(settings)
    upgrade(engine)
    app = main({}, **{**settings, "portal.engine": engine})
    with app_request(app.registry) as request:
        session = request.dbsession
        set_up_site(request)
        add_user(session, "editor", PASSWORD, [], ["黄梅镇"], fullname="黄梅镇信息员")
        add_user(session, "other_editor", PASSWORD, [], ["孔垄镇"], fullname="孔垄镇信息员")
        add_user(session, "reviewer", PASSWORD, ["reviewers"], [], fullname="县政府办审核员")
        add_user(session, "manager", PASSWORD, ["managers"], [])
    if demo:
        from content_types.demo import load_demo

        with app_request(app.registry) as request:
            load_demo(request)

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


@pytest.fixture(scope="session")
def portal_server(tmp_path_factory: Any) -> Iterator[PortalServer]:
    with serve_portal(tmp_path_factory.mktemp("browser-portal")) as server:
        yield server


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: Any) -> Iterator[PortalServer]:
    """A server of its own with `make run`'s demo content, for what a visitor sees."""
    with serve_portal(tmp_path_factory.mktemp("demo-portal"), demo=True) as server:
        yield server


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
    context = new_context(browser, portal_server)
    yield context
    context.close()


@pytest.fixture
def page(context: Any, page_log: PageLog) -> Any:
    page = context.new_page()
    page_log.attach(page)
    return page


# Second factors the browser tests set up, by login: staff who must have one (reviewers and managers
# unless portal.require_second_factor is off) enrol at their first login, as a person would.
SECOND_FACTORS: dict[str, str] = {}
LAST_CODES: dict[str, str] = {}


def totp_code(login: str) -> str:
    """The current code of `login`'s authenticator; a code once used is refused, so a second login
    within the same 30 s waits for the next one."""
    import time

    import pyotp

    totp = pyotp.TOTP(SECOND_FACTORS[login])
    while (code := totp.now()) == LAST_CODES.get(login):
        time.sleep(1)
    LAST_CODES[login] = code
    return code


def second_factor(page: Any, login: str) -> None:
    """Enrol (reading the key the page shows) or give the code, whichever the portal asks for."""
    path = page.url.split("?")[0].split("/", 3)[-1]
    if path == "@@second-factor":
        SECOND_FACTORS[login] = page.locator("code.secret").inner_text().replace(" ", "")
        page.fill("input[name=code]", totp_code(login))
        with page.expect_navigation():
            page.locator("button[name=action][value=enrol]").click()
        with page.expect_navigation():  # past the recovery codes
            page.locator("main a", has_text="继续").click()
    elif path == "@@login-code":
        page.fill("input[name=code]", totp_code(login))
        with page.expect_navigation():
            page.locator("main form[action$='/@@login-code'] button[type=submit]").click()


def log_in(page: Any, login: str, password: str = PASSWORD) -> None:
    """Log in through the login form, as a person would (with the second factor where asked)."""
    page.goto("/@@login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.locator("form[action$='/@@login'] button[type=submit]").click()
    second_factor(page, login)
    path = page.url.split("?")[0]
    assert not path.endswith(("@@login", "@@login-code", "@@second-factor")), f"login as {login} failed: {page.url}"


# -- the checks of every page a flow visits ----------------------------------------------------------

PROJECT_DIR = BROWSER_DIR.parents[1]
SCREENSHOTS_DIR = PROJECT_DIR / "var" / "screenshots"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def axe_installed() -> Path:
    """axe-core, installed by `npm ci` when missing (tests/browser/axe.py; npm itself with apt when
    it is missing and we are root); like the browser, its absence fails the tests in CI and skips
    them elsewhere."""
    from tests.browser.axe import ensure_axe

    try:
        if shutil.which("npm") is None and os.geteuid() == 0:  # as tests/pgserver.py does for PostgreSQL
            _install_with_apt("npm", lambda: shutil.which("npm") is not None)
        return ensure_axe()
    except RuntimeError as exc:
        unavailable(str(exc))
        raise  # not reached


def new_context(browser: Any, portal_server: PortalServer) -> Any:
    return browser.new_context(base_url=portal_server.base_url, locale="zh-CN", accept_downloads=True,
                               viewport=DESKTOP)


def assert_log_clean(log: PageLog, where: str) -> None:
    """Nothing went wrong in the page: no console error, no uncaught exception, no failed request."""
    problems = [*(f"console: {m}" for m in log.console_errors), *(f"exception: {m}" for m in log.page_errors),
                *(f"request: {m}" for m in log.failed_requests)]
    assert not problems, f"{where}:\n" + "\n".join(problems)


def slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text).strip("-")[:80] or "step"


class VisitChecks:
    """`visit_checks(page, step)`: see the module docstring. Each test's screenshots go to a folder
    of its own, emptied when the test starts, numbered in the order of the steps."""

    def __init__(self, test_name: str, browser: Any, portal_server: PortalServer) -> None:
        self.browser, self.server = browser, portal_server
        self.folder = SCREENSHOTS_DIR / slug(test_name)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.step = 0
        self.logs: dict[int, PageLog] = {}
        self.contexts: list[Any] = []

    def watch(self, page: Any, log: PageLog) -> None:
        self.logs[id(page)] = log

    def new_page(self, login: str | None = None) -> Any:
        """A page of another person (a browser context of its own), logged in as `login`."""
        context = new_context(self.browser, self.server)
        self.contexts.append(context)
        page = context.new_page()
        log = PageLog()
        log.attach(page)
        self.watch(page, log)
        if login is not None:
            log_in(page, login)
        return page

    def log_of(self, page: Any) -> PageLog:
        return self.logs[id(page)]

    def screenshots(self, page: Any, step: str) -> list[Path]:
        """The whole page at desktop and phone width; the page is left at desktop width."""
        self.step += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for size in (DESKTOP, PHONE):
            page.set_viewport_size(size)
            path = self.folder / f"{self.step:02d}-{slug(step)}-{size['width']}.png"
            page.screenshot(path=str(path), full_page=True, animations="disabled")
            paths.append(path)
        page.set_viewport_size(DESKTOP)
        return paths

    def __call__(self, page: Any, step: str, *, axe: bool = True) -> None:
        from tests.browser.axe import check_axe

        page.wait_for_load_state("load")
        where = f"step {step!r} ({page.url})"
        self.screenshots(page, step)
        if axe:
            check_axe(page, where)
        log = self.log_of(page)
        assert_log_clean(log, where)
        log.clear()

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def visit_checks(request: Any, browser: Any, portal_server: PortalServer, axe_installed: Path, page: Any,
                 page_log: PageLog) -> Iterator[VisitChecks]:
    checks = VisitChecks(request.node.name, browser, portal_server)
    checks.watch(page, page_log)
    yield checks
    checks.close()
