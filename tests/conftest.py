"""Test fixtures: a database built by running the migrations, on SQLite or on a real PostgreSQL.

`pytest` runs on SQLite; `pytest --db=postgresql` (or PORTAL_TEST_DB=postgresql) starts a throwaway
PostgreSQL server on loopback (tests/pgserver.py, installing it with apt when missing and root).
Each test runs in one transaction that is rolled back at its end, so tests do not see each other.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
import transaction
import webtest
from sqlalchemy import select

from portal import main
from portal.accounts import add_user
from portal.cli import app_request, make_request
from portal.migrate import upgrade
from portal.models import Unit, get_engine, get_tm_session
from portal.security import act_as
from portal.units import set_up_site

PASSWORD = "correct-horse-42"


def pytest_addoption(parser: Any) -> None:
    parser.addoption("--db", default=os.environ.get("PORTAL_TEST_DB", "sqlite"), choices=("sqlite", "postgresql"),
                     help="database to run the suite against")


@pytest.fixture(scope="session")
def db_kind(request: Any) -> str:
    return request.config.getoption("--db")


@pytest.fixture(scope="session")
def db_url(db_kind: str, tmp_path_factory: Any) -> Iterator[str]:
    if db_kind == "postgresql":
        from tests.pgserver import start_postgresql
        server = start_postgresql()
        yield server.url
        server.stop()
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'portal.db'}"


@pytest.fixture(scope="session")
def app_settings(db_url: str, tmp_path_factory: Any) -> dict[str, Any]:
    return test_settings(db_url, tmp_path_factory.mktemp("blobs"), tmp_path_factory.mktemp("index"))


def test_settings(db_url: str, blobs: Path, index: Path, **more: str) -> dict[str, Any]:
    """The settings of every test app (in-process, live servers, the browser's)."""
    return {
        "sqlalchemy.url": db_url,
        "portal.session_secret": "test-secret-" + "x" * 40,
        "portal.blobs_dir": str(blobs),
        "portal.page_cache_dir": f"{blobs}-pagecache",
        "portal.max_upload_size": "2MB",
        "search.index_dir": str(index),
        "pyramid.default_locale_name": "zh_CN",
        # argon2 at production cost takes ~0.5 s a hash here; tests hash dozens of passwords
        "portal.argon2_time_cost": "1",
        "portal.argon2_memory_cost": "1024",
        "portal.argon2_parallelism": "1",
        **more,
    }


test_settings.__test__ = False  # a helper, not a test


@pytest.fixture(scope="session")
def engine(app_settings: dict[str, Any]) -> Any:
    engine = get_engine(app_settings)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def app(app_settings: dict[str, Any], engine: Any) -> Any:
    app = main({}, **{**app_settings, "portal.engine": engine})
    with app_request(app.registry) as request:
        set_up_site(request)
    return app


@pytest.fixture
def tm() -> Iterator[transaction.TransactionManager]:
    tm = transaction.TransactionManager(explicit=True)
    tm.begin()
    tm.doom()
    yield tm
    tm.abort()


@pytest.fixture
def dbsession(app: Any, tm: transaction.TransactionManager) -> Iterator[Any]:
    """The test's session. The app's registry is current meanwhile, as in a request or a script, so
    `add_user` without a request hashes with the test settings' cheap argon2 parameters."""
    from pyramid.threadlocal import manager

    manager.push({"registry": app.registry, "request": None})
    yield get_tm_session(app.registry["dbsession_factory"], tm)
    manager.pop()


@pytest.fixture
def testapp(app: Any, tm: transaction.TransactionManager, dbsession: Any) -> webtest.TestApp:
    return webtest.TestApp(app, extra_environ={
        "HTTP_HOST": "example.com", "tm.active": True, "tm.manager": tm, "app.dbsession": dbsession,
        "REMOTE_ADDR": "10.0.0.1"})


@pytest.fixture
def users(dbsession: Any) -> dict[str, Any]:
    """One account per kind of user of the permission matrix."""
    return {
        "manager": add_user(dbsession, "manager", PASSWORD, ["managers"], []),
        "reviewer": add_user(dbsession, "reviewer", PASSWORD, ["reviewers"], []),
        "editor": add_user(dbsession, "editor", PASSWORD, [], ["黄梅镇"]),
        "other_editor": add_user(dbsession, "other-editor", PASSWORD, [], ["孔垄镇"]),
    }


@pytest.fixture
def town(dbsession: Any) -> Unit:
    """黄梅镇, whose organisation code is 421127-001; `editor` edits there."""
    return unit(dbsession, "黄梅镇")


@pytest.fixture
def other_town(dbsession: Any) -> Unit:
    return unit(dbsession, "孔垄镇")


@pytest.fixture
def request_as(app: Any, tm: Any, dbsession: Any, users: Any) -> Any:
    """`request_as("editor")`: a script request in the test's transaction, acting as that user."""

    def make(who: str) -> Any:
        request = make_request(app.registry, {"tm.manager": tm, "app.dbsession": dbsession})
        act_as(request, users[who])
        return request

    return make


def unit(dbsession: Any, title: str) -> Unit:
    return dbsession.scalar(select(Unit).where(Unit.title == title))


def csrf_token(res: webtest.TestResponse) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', res.text)
    assert match, "no csrf token on the page"
    return match.group(1)


def login(testapp: webtest.TestApp, who: str, password: str = PASSWORD) -> str:
    """Log in through the login form, and through the second factor's pages when the account must
    use one (setting it up with a code of the page's key, or giving a recovery code); returns the
    CSRF token of the new session."""
    import pyotp

    testapp.reset()
    page = testapp.get("/@@login")
    res = testapp.post("/@@login", {"login": who, "password": password, "csrf_token": csrf_token(page)})
    assert res.status_int == 302, res.text[:500]
    if "/@@second-factor?" in res.location:  # must set one up: scan the page's key
        page = res.follow()
        secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page.text).group(1).replace(" ", "")
        res = testapp.post("/@@second-factor", {"action": "enrol", "code": pyotp.TOTP(secret).now(),
                                                "csrf_token": csrf_token(page)})
        assert res.status_int == 200 and "recovery-codes" in res.text, res.text[:500]
    elif "/@@login-code?" in res.location:
        page = res.follow()
        res = testapp.post("/@@login-code", {"code": _recovery_code(testapp, who), "csrf_token": csrf_token(page)})
        assert res.status_int == 302, res.text[:500]
    return csrf_token(testapp.get("/@@login"))


def _recovery_code(testapp: webtest.TestApp, who: str) -> str:
    """A fresh recovery code of `who`, set up with a second factor if it had none (for the helpers)."""
    from portal import second_factor
    from portal.models import User

    dbsession = testapp.extra_environ["app.dbsession"]
    user = dbsession.scalar(select(User).where(User.login == who))
    if not user.has_second_factor:
        return second_factor.enrol(dbsession, user, second_factor.new_secret())[0]
    return second_factor.new_recovery_codes(dbsession, user)[0]


def api_token(testapp: webtest.TestApp, who: str, password: str = PASSWORD) -> dict[str, str]:
    """A Bearer token of `who`, with a recovery code as `otp` when the account must use a second factor."""
    res = testapp.post_json("/@login", {"login": who, "password": password}, status="*")
    if res.status_int in (401, 403) and "otp" in res.text:
        res = testapp.post_json("/@login", {"login": who, "password": password,
                                            "otp": _recovery_code(testapp, who)})
    return {"Authorization": f"Bearer {res.json['token']}", "Accept": "application/json"}


@pytest.fixture
def blobs_dir(app_settings: dict[str, Any]) -> Path:
    return Path(app_settings["portal.blobs_dir"])
