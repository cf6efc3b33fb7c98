"""The required permission matrix: who may do what to an item in each workflow state.

Every cell of MATRIX is one test (`test_matrix[<state>-<who>-<action>]`), checked through the real
security policy with a request whose identity is that user. A few cells are then checked end to end
through the pages, and local-role inheritance is checked on its own.

The item is a Folder (so "add" means something) in 黄梅镇, created by the editor of 黄梅镇 and
brought to its state by the manager.
"""
from __future__ import annotations

from typing import Any

import pytest

from pyramid.request import Request, apply_request_extensions

from portal import content
from portal.accounts import add_user
from portal.models import LocalRole, Node, User
from portal.security import act_as
from portal.workflow import allowed_transitions
from tests.conftest import PASSWORD, login, unit

WHO = ("anonymous", "editor", "other_editor", "reviewer", "manager")
STATES = ("private", "pending", "published")
ACTIONS = ("view", "add", "edit", "rename", "delete", "submit", "publish", "reject", "retract", "sharing")

Y, N = True, False

# fmt: off
# The design, one row per (state, action); columns in the order of WHO:
#                        anonymous  editor  other_editor  reviewer  manager
MATRIX: dict[str, dict[str, tuple[bool, bool, bool, bool, bool]]] = {
    "private": {
        "view":         (N,         Y,      N,            Y,        Y),
        "add":          (N,         Y,      N,            N,        Y),
        "edit":         (N,         Y,      N,            N,        Y),
        "rename":       (N,         Y,      N,            N,        Y),
        "delete":       (N,         Y,      N,            N,        Y),
        "submit":       (N,         Y,      N,            N,        Y),
        "publish":      (N,         N,      N,            N,        N),  # no such transition from private
        "reject":       (N,         N,      N,            N,        N),
        "retract":      (N,         N,      N,            N,        N),
        "sharing":      (N,         N,      N,            N,        Y),
    },
    "pending": {
        "view":         (N,         Y,      N,            Y,        Y),
        "add":          (N,         Y,      N,            N,        Y),
        "edit":         (N,         N,      N,            Y,        Y),
        "rename":       (N,         N,      N,            Y,        Y),
        "delete":       (N,         N,      N,            N,        Y),
        "submit":       (N,         N,      N,            N,        N),
        "publish":      (N,         N,      N,            Y,        Y),
        "reject":       (N,         N,      N,            Y,        Y),
        "retract":      (N,         N,      N,            N,        N),
        "sharing":      (N,         N,      N,            N,        Y),
    },
    "published": {
        "view":         (Y,         Y,      Y,            Y,        Y),
        "add":          (N,         Y,      N,            N,        Y),
        "edit":         (N,         Y,      N,            N,        Y),  # the editor's edit becomes a draft
        "rename":       (N,         N,      N,            Y,        Y),  # a public address: reviewed
        "delete":       (N,         N,      N,            N,        Y),
        "submit":       (N,         N,      N,            N,        N),
        "publish":      (N,         N,      N,            N,        N),  # only when a draft waits
        "reject":       (N,         N,      N,            N,        N),
        "retract":      (N,         N,      N,            Y,        Y),
        "sharing":      (N,         N,      N,            N,        Y),
    },
}
# fmt: on

PERMISSION_OF = {"view": "view", "add": "add", "edit": "edit", "rename": "rename", "delete": "delete",
                 "sharing": "manage"}
TRANSITION_ACTIONS = ("submit", "publish", "reject", "retract")
LOGINS = {"editor": "editor", "other_editor": "other-editor", "reviewer": "reviewer", "manager": "manager"}
# how the manager brings a new (private) item to each state
PATH_TO = {"private": (), "pending": ("submit",), "published": ("submit", "publish")}

CELLS = [(state, who, action) for state in STATES for who in WHO for action in ACTIONS]


# -- helpers --------------------------------------------------------------------------------------

def make_request(app: Any, tm: Any, dbsession: Any, user: User | None) -> Request:
    """A request of the app, joined to the test's transaction, whose identity is `user`."""
    request = Request.blank("/", base_url="http://example.com", environ={
        "app.dbsession": dbsession, "tm.active": True, "tm.manager": tm, "REMOTE_ADDR": "10.0.0.1"})
    request.registry = app.registry
    apply_request_extensions(request)
    act_as(request, user)
    return request


def may(request: Request, node: Node, action: str) -> bool:
    if action in PERMISSION_OF:
        return bool(request.has_permission(PERMISSION_OF[action], node))
    return action in {t.name for t in allowed_transitions(request, node)}


def new_item(app, tm, dbsession, container: Node, owner: User, manager: User, state: str,
             type_name: str = "Folder", title: str = "通知公告") -> Node:
    """An item created by `owner` in `container`, brought to `state` by `manager`."""
    data = {"title": title, "column_kind": "通知公告"} if type_name == "Folder" else {"title": title}
    item = content.create(make_request(app, tm, dbsession, owner), container, type_name, data)
    as_manager = make_request(app, tm, dbsession, manager)
    for name in PATH_TO[state]:
        content.transition(as_manager, item, name)
    dbsession.flush()
    assert item.state == state and item.owner == owner.login
    return item


@pytest.fixture
def as_user(app, tm, dbsession, users):
    """`as_user(who)`: a fresh request for one of WHO (or for a User)."""
    def make(who: str | User | None) -> Request:
        if who is None or who == "anonymous":
            return make_request(app, tm, dbsession, None)
        return make_request(app, tm, dbsession, who if isinstance(who, User) else users[who])
    return make


# -- the matrix -----------------------------------------------------------------------------------

def test_matrix_is_complete():
    assert set(MATRIX) == set(STATES)
    for state, rows in MATRIX.items():
        assert set(rows) == set(ACTIONS), state
        assert all(len(row) == len(WHO) for row in rows.values()), state
    assert len(CELLS) == 5 * 3 * 10 == 150


@pytest.mark.parametrize("state, who, action", CELLS, ids=["-".join(c) for c in CELLS])
def test_matrix(app, tm, dbsession, users, as_user, state, who, action):
    town = unit(dbsession, "黄梅镇")
    item = new_item(app, tm, dbsession, town, users["editor"], users["manager"], state)
    expected = MATRIX[state][action][WHO.index(who)]
    assert may(as_user(who), item, action) is expected, \
        f"{who} {'should' if expected else 'should not'} be able to {action} a {state} item"


def test_published_with_draft_can_be_published_and_rejected_by_reviewers(app, tm, dbsession, users, as_user):
    """The "unless a draft waits" of the published row: the editor's change goes to review."""
    town = unit(dbsession, "黄梅镇")
    item = new_item(app, tm, dbsession, town, users["editor"], users["manager"], "published")
    assert content.save(as_user("editor"), item, {"title": "改过的标题"}) == "draft"
    assert item.title == "通知公告" and item.draft["title"] == "改过的标题"
    for who in WHO:
        expected = who in ("reviewer", "manager")
        assert may(as_user(who), item, "publish") is expected, who
        assert may(as_user(who), item, "reject") is expected, who
    content.transition(as_user("reviewer"), item, "publish")
    assert item.title == "改过的标题" and item.draft is None and item.state == "published"


# -- end to end through the pages -----------------------------------------------------------------

def assert_state(dbsession, item: Node, state: str) -> None:
    """The state as stored (the views run in the test's session and transaction, unflushed)."""
    dbsession.flush()
    dbsession.expire(item)
    assert item.state == state


@pytest.fixture
def items(app, tm, dbsession, users):
    town = unit(dbsession, "黄梅镇")
    return {state: new_item(app, tm, dbsession, town, users["editor"], users["manager"], state,
                            title=f"{state} 栏目") for state in STATES}


def test_anonymous_get_private_item_is_not_found(testapp, items):
    """Not a redirect to the login form: that would confirm something private lives there."""
    testapp.get(items["private"].path, status=404)
    testapp.get(items["private"].path + "@@edit", status=404)


def test_anonymous_sees_published_item(testapp, items):
    assert testapp.get(items["published"].path).status_int == 200


def test_other_editor_cannot_edit_private_item(testapp, items):
    """They may not view it either: it looks missing (404), not forbidden."""
    login(testapp, "other-editor")
    testapp.get(items["private"].path + "@@edit", status=404)
    testapp.get(items["private"].path, status=404)
    testapp.get(items["published"].path + "@@edit", status=403)  # may view, may not edit


def test_editor_pages_for_own_private_item(testapp, items):
    login(testapp, "editor")
    path = items["private"].path
    assert testapp.get(path).status_int == 200
    assert testapp.get(path + "@@edit").status_int == 200
    assert testapp.get(path + "@@add?type=Page").status_int == 200
    assert testapp.get(path + "@@sharing", status=403).status_int == 403


def test_reviewer_publishes_pending_item(testapp, dbsession, items):
    item = items["pending"]
    token = login(testapp, "reviewer")
    res = testapp.post(item.path + "@@transition", {"transition": "publish", "comment": "", "csrf_token": token})
    assert res.status_int == 302
    assert_state(dbsession, item, "published")


def test_editor_cannot_publish_pending_item(testapp, dbsession, items):
    item = items["pending"]
    token = login(testapp, "editor")
    testapp.post(item.path + "@@transition", {"transition": "publish", "csrf_token": token}, status=403)
    assert_state(dbsession, item, "pending")


def test_reviewer_cannot_edit_published_but_can_retract(testapp, dbsession, items):
    item = items["published"]
    token = login(testapp, "reviewer")
    testapp.get(item.path + "@@edit", status=403)
    res = testapp.post(item.path + "@@transition", {"transition": "retract", "csrf_token": token})
    assert res.status_int == 302
    assert_state(dbsession, item, "private")


# -- local roles and their inheritance ------------------------------------------------------------

def test_reader_on_unit_sees_private_item_below_until_inheritance_is_blocked(
        app, tm, dbsession, users, as_user, testapp):
    town = unit(dbsession, "黄梅镇")
    reader = add_user(dbsession, "reader", PASSWORD, [], [])
    dbsession.add(LocalRole(node_id=town.id, principal="user:reader", role="Reader"))
    folder = new_item(app, tm, dbsession, town, users["editor"], users["manager"], "published", title="栏目")
    page = new_item(app, tm, dbsession, folder, users["editor"], users["manager"], "private",
                    type_name="Page", title="内部页面")

    assert may(as_user(reader), page, "view")
    assert not may(as_user(reader), page, "edit")
    assert not may(as_user("other_editor"), page, "view")
    login(testapp, "reader")
    assert testapp.get(page.path).status_int == 200

    folder.inherit_roles = False
    dbsession.flush()
    assert not may(as_user(reader), page, "view")
    # the block also cuts the editor's local roles from 黄梅镇 (the editor still owns the page)
    assert not may(as_user("editor"), page, "add")
    # ownership counts only with a writing role on the page's chain, which the block cut
    assert not may(as_user("editor"), page, "edit")
    assert may(as_user("manager"), page, "view")  # global roles are not local: never blocked
    assert may(as_user("reviewer"), page, "view")
    testapp.get(page.path, status=404)

    # a role granted on the blocking folder itself still applies below it
    dbsession.add(LocalRole(node_id=folder.id, principal="user:reader", role="Reader"))
    dbsession.flush()
    assert may(as_user(reader), page, "view")


def test_local_reviewer_publishes_only_in_own_unit(app, tm, dbsession, users, as_user, testapp):
    town, other_town = unit(dbsession, "黄梅镇"), unit(dbsession, "孔垄镇")
    local_reviewer = add_user(dbsession, "local-reviewer", PASSWORD, [], [])
    dbsession.add(LocalRole(node_id=other_town.id, principal="user:local-reviewer", role="Reviewer"))
    there = new_item(app, tm, dbsession, other_town, users["other_editor"], users["manager"], "pending",
                     title="孔垄镇栏目")
    here = new_item(app, tm, dbsession, town, users["editor"], users["manager"], "pending", title="黄梅镇栏目")

    assert may(as_user(local_reviewer), there, "publish")
    assert may(as_user(local_reviewer), there, "reject")
    assert not may(as_user(local_reviewer), here, "publish")
    assert not may(as_user(local_reviewer), here, "view")
    # the editor of 孔垄镇 may not publish in their own unit
    assert not may(as_user("other_editor"), there, "publish")

    token = login(testapp, "local-reviewer")
    # an item of another unit it may not view looks missing
    testapp.post(here.path + "@@transition", {"transition": "publish", "csrf_token": token}, status=404)
    res = testapp.post(there.path + "@@transition", {"transition": "publish", "csrf_token": token})
    assert res.status_int == 302
    assert_state(dbsession, there, "published")
    assert_state(dbsession, here, "pending")
