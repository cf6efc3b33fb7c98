"""The audit log: every security event with who, when, from where and what; the managers' screen
and its filters; and no way to change or delete an entry."""
from __future__ import annotations

import datetime as dt

import lxml.html
import pytest
from sqlalchemy import delete, func, select, text, update

from portal import accounts, audit, content, sharing
from portal.models import AuditEntry
from portal.models.audit import AuditLogIsAppendOnly
from portal.models.node import utcnow
from tests.conftest import PASSWORD, csrf_token, login


def entries(dbsession, **where) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    for key, value in where.items():
        query = query.where(getattr(AuditEntry, key) == value)
    return dbsession.scalars(query).all()


def screen_rows(page) -> list[list[str]]:
    doc = lxml.html.fromstring(page.text)
    return [[td.text_content().strip() for td in row.xpath("./td")] for row in doc.xpath('//tr[@class="entry"]')]


# -- what is recorded ----------------------------------------------------------------------

def test_logins_their_failures_and_logouts(testapp, dbsession, users):
    page = testapp.get("/@@login")
    testapp.post("/@@login", {"login": "editor", "password": "wrong", "csrf_token": csrf_token(page)}, status=403,
                 extra_environ={"REMOTE_ADDR": "10.2.3.4"})
    testapp.post("/@@login", {"login": "nobody", "password": "wrong", "csrf_token": csrf_token(page)}, status=403)
    token = login(testapp, "editor")
    testapp.post("/@@logout", {"csrf_token": token}, status=302)
    testapp.post_json("/@login", {"login": "editor", "password": PASSWORD})
    rows = [(e.action, e.actor, e.target, e.address, e.details) for e in entries(dbsession)
            if e.action.startswith(("login", "logout"))]
    assert rows == [
        ("login.failed", "", "user:editor", "10.2.3.4", {"reason": "invalid", "step": "password"}),
        ("login.failed", "", "user:nobody", "10.0.0.1", {"reason": "invalid", "step": "password"}),
        ("login", "editor", "user:editor", "10.0.0.1", {"second_factor": "none"}),
        ("logout", "editor", "user:editor", "10.0.0.1", {}),
        ("login", "editor", "user:editor", "10.0.0.1", {"second_factor": "none", "via": "api"}),
    ]
    assert all(abs(e.at - utcnow()) < dt.timedelta(minutes=1) for e in entries(dbsession)
               if e.action.startswith(("login", "logout")))


def test_throttled_logins(testapp, dbsession, users):
    for _ in range(6):
        testapp.post_json("/@login", {"login": "editor", "password": "wrong"}, status="*")
    assert [e.details["reason"] for e in entries(dbsession, action="login.failed")] == ["invalid"] * 5 + ["throttled"]


def test_sharing_changes(testapp, dbsession, users, town):
    token = login(testapp, "manager")
    testapp.post(town.path + "@@sharing", {"csrf_token": token, "save": "1", "principal": "user:other-editor",
                                           "grant": "user:other-editor|Editor", "inherit": "1"}, status=302)
    (entry,) = entries(dbsession, action="sharing.changed")
    assert (entry.actor, entry.target, entry.address) == ("manager", town.path, "10.0.0.1")
    assert entry.details["roles"]["user:other-editor"] == ["Editor"]
    assert entry.details["roles"]["user:editor"] == ["Contributor", "Editor", "Reader"]
    assert entry.details["inherit"] is True


def test_publication_and_retraction(dbsession, users, request_as, town):
    editor, reviewer = request_as("editor"), request_as("reviewer")
    page = content.create(editor, town, "Page", {"title": "审计测试", "body": "<p>正文</p>"})
    content.transition(editor, page, "submit")
    content.transition(reviewer, page, "publish")
    content.transition(reviewer, page, "retract")
    rows = [(e.action, e.actor, e.target, e.details["transition"]) for e in entries(dbsession, target=page.path)]
    assert rows == [("content.published", "reviewer", page.path, "publish"),
                    ("content.retracted", "reviewer", page.path, "retract")]


def test_accounts_made_and_removed(app, dbsession, users, request_as, town):
    request = request_as("manager")
    user = accounts.add_user(dbsession, "wang", PASSWORD, ["reviewers"], ["黄梅镇"], request=request)
    accounts.remove_user(request, user)
    created, removed = entries(dbsession, target="user:wang")[0], entries(dbsession, action="user.removed")[0]
    assert created.action == "user.created" and created.actor == "manager"
    assert created.details == {"groups": ["reviewers"], "editor_of": [town.path]}
    assert removed.actor == "manager" and removed.target == "user:wang" and removed.details["groups"] == ["reviewers"]
    # the roles went through the sharing action, and are in the log too
    assert [e.details["roles"].get("user:wang") for e in entries(dbsession, action="sharing.changed")] == \
        [["Contributor", "Editor", "Reader"], None]


def test_an_action_without_a_label_is_refused(request_as, users):
    with pytest.raises(ValueError):
        audit.record(request_as("manager"), "something.else")


def test_an_aborted_change_leaves_no_entry(dbsession, users, request_as, town):
    request = request_as("manager")
    savepoint = dbsession.begin_nested()
    sharing.set_roles(request, town, {"user:other-editor": {"Reader": True}})
    savepoint.rollback()
    assert entries(dbsession, action="sharing.changed") == []


# -- the managers' screen --------------------------------------------------------------------

def add_entry(dbsession, action, actor, at):
    dbsession.add(AuditEntry(action=action, actor=actor, target=f"user:{actor}", at=at, details={"n": 1}))
    dbsession.flush()


def test_the_screen_filters_by_who_what_and_when(testapp, dbsession, users):
    add_entry(dbsession, "login", "editor", dt.datetime(2026, 3, 1, 2, 0))  # 10:00 in Beijing
    add_entry(dbsession, "login.failed", "editor", dt.datetime(2026, 3, 2, 17, 0))  # 3 March, 01:00 in Beijing
    add_entry(dbsession, "login", "reviewer", dt.datetime(2026, 3, 3, 2, 0))
    login(testapp, "manager")
    page = testapp.get("/@@audit")
    assert page.status_int == 200 and len(screen_rows(page)) >= 4  # ours, and the manager's own login
    rows = screen_rows(testapp.get("/@@audit", {"actor": "editor"}))
    assert [r[0] for r in rows] == ["2026-03-03 01:00", "2026-03-01 10:00"]
    assert rows[0][1] == "editor" and rows[0][3] == "user:editor" and rows[0][5] == "n=1"
    rows = screen_rows(testapp.get("/@@audit", {"action": "login", "since": "2026-03-01", "until": "2026-03-03"}))
    assert [(r[0], r[1]) for r in rows] == [("2026-03-03 10:00", "reviewer"), ("2026-03-01 10:00", "editor")]
    rows = screen_rows(testapp.get("/@@audit", {"since": "2026-03-03", "until": "2026-03-03"}))
    assert [r[1] for r in rows] == ["reviewer", "editor"]  # local days: 01:00 on 3 March is that day
    page = testapp.get("/@@audit", {"since": "3/1/2026"})
    assert 'class="error"' in page.text


def test_the_screen_pages(testapp, dbsession, users):
    for i in range(55):
        add_entry(dbsession, "logout", "editor", dt.datetime(2026, 1, 1) + dt.timedelta(minutes=i))
    login(testapp, "manager")
    first = testapp.get("/@@audit", {"actor": "editor"})
    assert len(screen_rows(first)) == 50
    assert "page=2" in first.text and "actor=editor" in first.text
    assert len(screen_rows(testapp.get("/@@audit", {"actor": "editor", "page": "2"}))) == 5


def test_the_screen_is_for_managers(testapp, users):
    res = testapp.get("/@@audit", status=302)
    assert "@@login" in res.location
    login(testapp, "reviewer")
    testapp.get("/@@audit", status=403)
    login(testapp, "editor")
    testapp.get("/@@audit", status=403)


# -- append-only -----------------------------------------------------------------------------

def test_no_request_changes_or_deletes_an_entry(testapp, dbsession, users):
    token = login(testapp, "manager")
    before = [(e.id, e.action, e.actor, e.details) for e in entries(dbsession)]
    assert before
    for method in ("post", "put", "patch", "delete"):
        getattr(testapp, method)("/@@audit", {"csrf_token": token, "id": str(before[0][0])}, status="*")
    testapp.delete(f"/@@audit/{before[0][0]}", status="*")
    dbsession.expire_all()
    assert [(e.id, e.action, e.actor, e.details) for e in entries(dbsession)][:len(before)] == before


@pytest.mark.parametrize("change", ["update", "delete"])
def test_the_orm_refuses_to_change_or_delete_an_entry(dbsession, request_as, users, change):
    entry = audit.record(request_as("manager"), "logout", "user:manager")
    dbsession.flush()
    savepoint = dbsession.begin_nested()
    if change == "update":
        entry.actor = "someone-else"
    else:
        dbsession.delete(entry)
    with pytest.raises(AuditLogIsAppendOnly):
        dbsession.flush()
    savepoint.rollback()


@pytest.mark.parametrize("statement", [update(AuditEntry).values(actor="x"), delete(AuditEntry)])
def test_the_orm_refuses_bulk_changes(dbsession, statement):
    with pytest.raises(AuditLogIsAppendOnly):
        dbsession.execute(statement)


@pytest.mark.parametrize("sql", ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"])
def test_the_database_refuses_changes_from_any_client(dbsession, request_as, users, sql):
    audit.record(request_as("manager"), "logout", "user:manager")
    dbsession.flush()
    savepoint = dbsession.begin_nested()
    with pytest.raises(Exception, match="append-only"):
        dbsession.execute(text(sql))
    savepoint.rollback()
    assert dbsession.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.actor == "x")) == 0
    assert dbsession.scalar(select(func.count(AuditEntry.id))) >= 1
