"""Logging in and out through the pages: session cookie, failures and throttling, CSRF, came_from."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from portal.models import LoginFailure
from portal.models.node import utcnow
from tests.conftest import PASSWORD, csrf_token, login, unit



def login_page(testapp):
    testapp.reset()
    return testapp.get("/@@login")


def failures(dbsession, **where) -> int:
    query = select(func.count(LoginFailure.id))
    for key, value in where.items():
        query = query.where(getattr(LoginFailure, key) == value)
    return dbsession.scalar(query)


def logged_in(testapp) -> bool:
    """Anonymous people are sent to the login page from their own items page."""
    res = testapp.get("/@@my-items", status="*")
    return res.status_int == 200


def add_failures(dbsession, count, *, login="editor", address="10.0.0.1", age=dt.timedelta(minutes=1)):
    at = utcnow() - age
    for i in range(count):
        dbsession.add(LoginFailure(login=login.format(i=i), address=address.format(i=i), at=at))
    dbsession.flush()


# -- logging in and out ---------------------------------------------------------------------------

def test_login_form_logs_in_with_an_httponly_samesite_session_cookie(testapp, users):
    page = login_page(testapp)
    assert page.status_int == 200
    assert 'name="login"' in page.text and 'name="password"' in page.text
    res = testapp.post("/@@login", {"login": "editor", "password": PASSWORD, "csrf_token": csrf_token(page)})
    assert res.status_int == 302
    assert res.location == "http://example.com/"
    cookies = [v for k, v in res.headerlist if k.lower() == "set-cookie"]
    session_cookies = [c for c in cookies if c.startswith("portal_session=")]
    assert session_cookies, cookies
    for cookie in session_cookies:
        attrs = [a.strip().lower() for a in cookie.split(";")]
        assert "httponly" in attrs
        assert "samesite=lax" in attrs
    assert logged_in(testapp)


def test_login_issues_a_new_session(testapp, users):
    """The cookie changes at login (no session fixation)."""
    page = login_page(testapp)
    before = testapp.cookies.get("portal_session")
    assert before
    testapp.post("/@@login", {"login": "editor", "password": PASSWORD, "csrf_token": csrf_token(page)}, status=302)
    assert testapp.cookies.get("portal_session") != before


def test_logout_through_the_form(testapp, users):
    token = login(testapp, "editor")
    assert logged_in(testapp)
    res = testapp.post("/@@logout", {"csrf_token": token})
    assert res.status_int == 302
    assert res.location == "http://example.com/"
    assert not logged_in(testapp)


def test_logout_by_get_is_not_possible(testapp, users):
    login(testapp, "editor")
    testapp.get("/@@logout", status="*")
    assert logged_in(testapp)


def test_wrong_password_stays_on_login_with_an_error_and_records_a_failure(testapp, dbsession, users):
    page = login_page(testapp)
    before = failures(dbsession, login="editor")
    res = testapp.post("/@@login", {"login": "editor", "password": "wrong-password", "csrf_token": csrf_token(page)},
                       status=403)
    assert 'class="error"' in res.text
    assert 'name="password"' in res.text  # the login form again
    assert 'value="editor"' in res.text  # the login name is kept
    assert failures(dbsession, login="editor") == before + 1
    row = dbsession.scalars(select(LoginFailure).where(LoginFailure.login == "editor")).all()[-1]
    assert row.address == "10.0.0.1"
    assert not logged_in(testapp)


def test_unknown_user_is_a_failure_too(testapp, dbsession, users):
    page = login_page(testapp)
    testapp.post("/@@login", {"login": "nobody", "password": PASSWORD, "csrf_token": csrf_token(page)}, status=403)
    assert failures(dbsession, login="nobody") == 1


def test_five_failures_throttle_the_account_from_that_address_even_with_the_right_password(testapp, dbsession,
                                                                                          users):
    page = login_page(testapp)
    token = csrf_token(page)
    for _ in range(5):
        testapp.post("/@@login", {"login": "editor", "password": "wrong-password", "csrf_token": token}, status=403)
    assert failures(dbsession, login="editor") == 5
    res = testapp.post("/@@login", {"login": "editor", "password": PASSWORD, "csrf_token": token}, status=429)
    assert 'class="error"' in res.text
    assert not logged_in(testapp)
    # other accounts from that address are not
    testapp.post("/@@login", {"login": "other-editor", "password": PASSWORD, "csrf_token": token}, status=302)


def test_nobody_locks_someone_else_out(testapp, dbsession, users):
    """Five wrong passwords (from one address, or from five) no longer lock the account: its owner,
    from their own address, still logs in (the attack run locked admin for 15 minutes)."""
    page = login_page(testapp)
    token = csrf_token(page)
    for i in range(5):
        testapp.post("/@@login", {"login": "editor", "password": "wrong-password", "csrf_token": token}, status=403,
                     extra_environ={"REMOTE_ADDR": f"10.6.6.{i % 2}"})
    assert failures(dbsession, login="editor") == 5
    testapp.post("/@@login", {"login": "editor", "password": PASSWORD, "csrf_token": token}, status=302,
                 extra_environ={"REMOTE_ADDR": "10.9.9.9"})
    assert logged_in(testapp)


def test_guessing_from_many_addresses_stops_at_fifty_for_an_account_without_second_factor(testapp, dbsession,
                                                                                            users):
    add_failures(dbsession, 49, address="10.7.{i}.1")  # 1 from each of 49 addresses
    page = login_page(testapp)
    testapp.post("/@@login", {"login": "editor", "password": "wrong", "csrf_token": csrf_token(page)}, status=403,
                 extra_environ={"REMOTE_ADDR": "10.8.0.1"})
    testapp.post("/@@login", {"login": "editor", "password": PASSWORD, "csrf_token": csrf_token(page)}, status=429,
                 extra_environ={"REMOTE_ADDR": "10.8.0.2"})
    assert not logged_in(testapp)


def test_four_failures_do_not_throttle(testapp, dbsession, users):
    add_failures(dbsession, 4)
    page = login_page(testapp)
    testapp.post("/@@login", {"login": "editor", "password": PASSWORD, "csrf_token": csrf_token(page)}, status=302)


def test_failures_older_than_15_minutes_do_not_count(testapp, dbsession, users):
    add_failures(dbsession, 5, age=dt.timedelta(minutes=16))
    add_failures(dbsession, 20, login="someone{i}", age=dt.timedelta(minutes=16))
    page = login_page(testapp)
    testapp.post("/@@login", {"login": "editor", "password": PASSWORD, "csrf_token": csrf_token(page)}, status=302)


def test_twenty_failures_throttle_the_address(testapp, dbsession, users):
    page = login_page(testapp)
    token = csrf_token(page)
    for i in range(20):  # unknown accounts: 20 different logins from one address
        testapp.post("/@@login", {"login": f"guess{i}", "password": "x", "csrf_token": token}, status=403)
    assert failures(dbsession, address="10.0.0.1") == 20
    testapp.post("/@@login", {"login": "editor", "password": PASSWORD, "csrf_token": token}, status=429)
    assert not logged_in(testapp)
    # from another address the same account logs in
    testapp.post("/@@login", {"login": "editor", "password": PASSWORD, "csrf_token": token}, status=302,
                 extra_environ={"REMOTE_ADDR": "10.0.0.2"})


def test_nineteen_failures_from_an_address_do_not_throttle(testapp, dbsession, users):
    add_failures(dbsession, 19, login="guess{i}")
    page = login_page(testapp)
    testapp.post("/@@login", {"login": "editor", "password": PASSWORD, "csrf_token": csrf_token(page)}, status=302)


# -- CSRF -----------------------------------------------------------------------------------------

def test_login_without_csrf_token_is_refused(testapp, users):
    login_page(testapp)
    res = testapp.post("/@@login", {"login": "editor", "password": PASSWORD}, status="*")
    assert res.status_int >= 400
    assert not logged_in(testapp)


def test_logout_without_csrf_token_is_refused(testapp, users):
    login(testapp, "editor")
    res = testapp.post("/@@logout", {}, status="*")
    assert res.status_int in (400, 403)
    assert logged_in(testapp)


def test_logout_with_a_wrong_csrf_token_is_refused(testapp, users):
    login(testapp, "editor")
    res = testapp.post("/@@logout", {"csrf_token": "forged"}, status="*")
    assert res.status_int in (400, 403)
    assert logged_in(testapp)


def test_edit_form_without_csrf_token_changes_nothing(testapp, dbsession, users):
    token = login(testapp, "manager")
    town = unit(dbsession, "黄梅镇")
    title, version = town.title, town.version
    form = testapp.get(town.path + "@@edit").forms["content-form"]
    fields = [(k, v) for k, v in form.submit_fields("save") if k != "csrf_token"]
    fields = [(k, "改掉的标题" if k == "title" else v) for k, v in fields]
    res = testapp.post(town.path + "@@edit", fields, status="*")
    assert res.status_int in (400, 403)
    dbsession.expire_all()
    town = unit(dbsession, "黄梅镇")
    assert town.title == title and town.version == version
    assert token  # the same post with the token works:
    res = testapp.post(town.path + "@@edit", fields + [("csrf_token", token)], status=302)
    assert unit(dbsession, "改掉的标题") is not None


def test_csrf_token_in_a_header_is_accepted(testapp, users):
    token = login(testapp, "editor")
    testapp.post("/@@logout", {}, headers={"X-CSRF-Token": token}, status=302)
    assert not logged_in(testapp)


# -- came_from ------------------------------------------------------------------------------------

def test_came_from_on_this_site_is_followed(testapp, users):
    page = login_page(testapp)
    res = testapp.post("/@@login", {"login": "editor", "password": PASSWORD, "csrf_token": csrf_token(page),
                                    "came_from": "http://example.com/huangmeizhen/@@contents"}, status=302)
    assert res.location == "http://example.com/huangmeizhen/@@contents"


def test_relative_came_from_stays_on_this_site(testapp, users):
    page = login_page(testapp)
    res = testapp.post("/@@login", {"login": "editor", "password": PASSWORD, "csrf_token": csrf_token(page),
                                    "came_from": "/huangmeizhen/"}, status=302)
    assert res.location == "http://example.com/huangmeizhen/"


@pytest.mark.parametrize("target", [
    "http://evil.example.org/",
    "https://evil.example.org/phish",
    "//evil.example.org/",
    "http://example.com.evil.org/",
    "http://example.com@evil.org/",
])
def test_came_from_to_another_host_is_ignored(testapp, users, target):
    page = login_page(testapp)
    res = testapp.post("/@@login", {"login": "editor", "password": PASSWORD, "csrf_token": csrf_token(page),
                                    "came_from": target}, status=302)
    assert res.location == "http://example.com/"


def test_came_from_with_another_scheme_and_no_slashes_is_ignored(testapp, users):
    page = login_page(testapp)
    res = testapp.post("/@@login", {"login": "editor", "password": PASSWORD, "csrf_token": csrf_token(page),
                                    "came_from": "https:evil.example.org/"}, status=302)
    assert "evil" not in res.location


def test_login_page_keeps_came_from_in_the_form(testapp):
    res = testapp.get("/@@login", {"came_from": "http://example.com/huangmeizhen/"})
    assert 'name="came_from" value="http://example.com/huangmeizhen/"' in res.text
    res = testapp.get("/@@login", {"came_from": "http://evil.example.org/"})
    assert 'name="came_from" value="http://example.com/"' in res.text


# -- anonymous access -----------------------------------------------------------------------------

def test_anonymous_edit_redirects_to_login_with_came_from(testapp, dbsession):
    town = unit(dbsession, "黄梅镇")
    res = testapp.get(town.path + "@@edit", status=302)
    assert res.location.startswith("http://example.com/@@login?")
    assert "came_from=" in res.location
    assert "huangmeizhen" in res.location
    page = res.follow()
    assert page.status_int == 200 and 'name="password"' in page.text


def test_anonymous_post_is_forbidden_not_redirected(testapp, dbsession):
    town = unit(dbsession, "黄梅镇")
    page = testapp.get("/@@login")
    res = testapp.post(town.path + "@@edit", {"csrf_token": csrf_token(page), "save": "save", "title": "x"},
                       status="*")
    assert res.status_int == 403
    dbsession.expire_all()
    assert unit(dbsession, "黄梅镇") is not None


def test_logged_in_without_permission_gets_403(testapp, dbsession, users):
    login(testapp, "other-editor")
    town = unit(dbsession, "黄梅镇")
    testapp.get(town.path + "@@add?type=Page", status=403)
    testapp.get(unit(dbsession, "孔垄镇").path + "@@add?type=Page", status=200)


# -- headers --------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/@@login", "/huangmeizhen/", "/no-such-page/"])
def test_security_headers(testapp, path):
    res = testapp.get(path, status="*")
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert res.headers["X-Frame-Options"] in ("SAMEORIGIN", "DENY")
    assert res.headers.get("Referrer-Policy")


def test_security_headers_on_redirects_and_errors(testapp, dbsession):
    town = unit(dbsession, "黄梅镇")
    res = testapp.get(town.path + "@@edit", status=302)
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    res = testapp.post("/@@logout", {}, status="*")
    assert res.status_int >= 400
    assert res.headers["X-Content-Type-Options"] == "nosniff"


# -- guesses in parallel and the timing of unknown accounts ----------------------------------------

@pytest.fixture
def live_app(db_kind, db_url, app_settings, tmp_path):
    """The app on a database of its own, where each request commits its own transaction, as under a
    real server: what parallel requests do to each other shows (the suite's rolled-back test
    transaction hides it). Yields (app, engine); the database is dropped afterwards."""
    import uuid

    import transaction
    from sqlalchemy import create_engine, make_url, text

    from portal import main
    from portal.accounts import add_user, ensure_groups
    from portal.cli import make_request
    from portal.migrate import upgrade
    from portal.models import get_engine, get_tm_session
    from portal.units import ensure_root

    server = None
    if db_kind == "sqlite":
        engine = get_engine({"sqlalchemy.url": f"sqlite:///{tmp_path / 'live.db'}"})
    else:
        name = f"portal_live_{uuid.uuid4().hex[:12]}"
        server = create_engine(db_url, isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine = get_engine({"sqlalchemy.url": make_url(db_url).set(database=name), "sqlalchemy.pool_size": "12"})
    try:
        upgrade(engine)
        app = main({}, **{**app_settings, "portal.engine": engine, "search.index_dir": str(tmp_path / "index"),
                          "portal.blobs_dir": str(tmp_path / "blobs")})
        tm = transaction.TransactionManager(explicit=True)
        with tm:
            session = get_tm_session(app.registry["dbsession_factory"], tm)
            request = make_request(app.registry, {"tm.manager": tm, "app.dbsession": session})
            ensure_root(session)
            ensure_groups(session)
            add_user(session, "editor", PASSWORD, [], [], request=request)
        yield app, engine
    finally:
        engine.dispose()
        if server is not None:
            with server.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            server.dispose()


def test_parallel_guesses_get_no_more_than_five_tries(live_app, monkeypatch):
    """Ten wrong passwords at once from one address: five are checked, five are refused unchecked
    (the attack run got 8 tries instead of 5: every request counted before any had written)."""
    import threading
    import time

    import webtest

    from portal import security

    app, engine = live_app
    real_verify = security._verify
    checked = []

    def slow_verify(password_hash, password):  # argon2 at production cost takes ~0.5 s
        checked.append(password)
        time.sleep(0.2)
        return real_verify(password_hash, password)

    monkeypatch.setattr(security, "_verify", slow_verify)
    barrier = threading.Barrier(10)
    statuses: list[int] = []

    def guess(i: int) -> None:
        client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "example.com", "REMOTE_ADDR": "10.0.0.9"})
        barrier.wait()
        statuses.append(client.post_json("/@login", {"login": "editor", "password": f"guess-{i}"},
                                         status="*").status_int)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [401] * 5 + [429] * 5
    assert len(checked) == 5
    with engine.connect() as connection:
        assert connection.scalar(select(func.count(LoginFailure.id))) == 5


def test_an_unknown_login_costs_one_verification_of_the_same_cost(testapp, app, users, monkeypatch):
    """Unknown accounts answered in 11 ms and known ones in 99 ms: the time told which exist."""
    from argon2 import PasswordHasher, extract_parameters

    from portal.security import password_hasher

    verified: list[str] = []
    real = PasswordHasher.verify

    def spy(self, password_hash, password):
        verified.append(password_hash)
        return real(self, password_hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", spy)
    page = login_page(testapp)
    testapp.post("/@@login", {"login": "nobody", "password": PASSWORD, "csrf_token": csrf_token(page)}, status=403)
    assert len(verified) == 1
    configured = password_hasher(app.registry)
    params = extract_parameters(verified[0])
    assert (params.time_cost, params.memory_cost, params.parallelism) == \
        (configured.time_cost, configured.memory_cost, configured.parallelism)


def test_unknown_and_known_logins_take_as_long(app, tm, dbsession, users, monkeypatch):
    import statistics
    import time

    from argon2 import PasswordHasher

    from portal.cli import make_request
    from portal.security import DUMMY_HASH_KEY, authenticate

    costly = PasswordHasher(time_cost=2, memory_cost=16 * 1024, parallelism=1)  # ~20-40 ms a verification
    users["editor"].password_hash = costly.hash(PASSWORD)
    monkeypatch.setitem(app.registry, DUMMY_HASH_KEY, costly.hash("something-else"))
    dbsession.flush()

    def timed(login: str, i: int) -> float:
        request = make_request(app.registry, {"tm.manager": tm, "app.dbsession": dbsession,
                                              "REMOTE_ADDR": f"10.3.{i}.1"})
        start = time.perf_counter()
        user, why = authenticate(request, login, "wrong-password")
        assert user is None and why == "invalid"
        return time.perf_counter() - start

    known, unknown = [], []
    for i in range(6):  # interleaved, so a slower moment of the machine weighs on both
        known.append(timed("editor", i))
        unknown.append(timed(f"nobody{i}", 10 + i))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 < ratio < 2, (known, unknown)


def test_a_disabled_account_cannot_log_in(testapp, dbsession, users):
    users["editor"].disabled = True
    dbsession.flush()
    page = login_page(testapp)
    res = testapp.post("/@@login", {"login": "editor", "password": PASSWORD, "csrf_token": csrf_token(page)},
                       status=403)
    assert 'class="error"' in res.text
    assert not logged_in(testapp)
    testapp.post_json("/@login", {"login": "editor", "password": PASSWORD}, status=401)
