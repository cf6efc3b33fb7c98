"""Who may see an item (`portal.visibility`): the lineage walk of local roles, the principals that
may view an item (what search's `allowed` field holds) and "public now" in SQL.

`viewers` must name exactly the principals that may view the node in its workflow state, as the
security policy decides: global roles as `role:<R>`, the owner as `user:<login>`, and everybody
holding a viewing role locally on the node or a parent (up to where inheritance is blocked).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pyramid.authorization import Everyone
from pyramid.interfaces import ISecurityPolicy
from sqlalchemy import select

from portal import content
from portal.cli import act_as
from portal.models import LocalRole, Node, User
from portal.models.node import utcnow
from portal.sharing import set_roles
from portal.visibility import public_in_itself, public_now, role_chain, viewers
from tests.conftest import unit

STAFF = ["role:Contributor", "role:Editor", "role:Manager", "role:Reader", "role:Reviewer"]
WHO = [None, "editor", "other-editor", "reviewer", "manager", "reader"]


@pytest.fixture
def request_(request_as: Any) -> Any:
    """A request acting as the editor of 黄梅镇."""
    return request_as("editor")


def as_user(request: Any, dbsession: Any, login: str | None) -> None:
    act_as(request, dbsession.scalar(select(User).where(User.login == login)) if login else None)


def new(request: Any, container: Node, type_name: str = "Page", **data: Any) -> Node:
    data.setdefault("title", "测试")
    if type_name == "Disclosure":
        data.setdefault("subject", "综合政务")
        data.setdefault("genre", "通知")
    return content.create(request, container, type_name, data)


def can_view(request: Any, node: Node, login: str | None) -> bool:
    """What the security policy says (the oracle for `viewers`)."""
    policy = request.registry.getUtility(ISecurityPolicy)
    as_user(request, request.dbsession, login)
    try:
        return bool(policy.permits(request, node, "view"))
    finally:
        as_user(request, request.dbsession, None)


def base_principals(request: Any, login: str | None) -> set[str]:
    policy = request.registry.getUtility(ISecurityPolicy)
    as_user(request, request.dbsession, login)
    try:
        return set(policy.base_principals(request))
    finally:
        as_user(request, request.dbsession, None)


def finds(request: Any, node: Node, login: str | None) -> bool:
    """Whether a search by `login` may return the node (its principals meet `viewers`)."""
    return bool(base_principals(request, login) & set(viewers(request.dbsession, node)))


# --- the whole matrix -------------------------------------------------------------------------

SHARING = ["none", "reader-on-folder", "group-on-folder", "blocked-below-folder", "reader-on-item",
           "folders-published", "folder-retracted", "owner-revoked", "owner-reader-only", "owner-role-by-group"]


@pytest.mark.parametrize("sharing", SHARING)
@pytest.mark.parametrize("state", ["private", "pending", "published"])
def test_viewers_agree_with_the_security_policy(request_, dbsession, town, users, state, sharing):
    """Every kind of user, every state, every way roles reach an item: `viewers` says what the policy says."""
    from portal.cli import add_user
    from tests.conftest import PASSWORD
    add_user(dbsession, "reader", PASSWORD, [], [])
    as_user(request_, dbsession, "manager")
    folder = new(request_, town, "Folder", title="栏目")
    inner = new(request_, folder, "Folder", title="子栏目")
    as_user(request_, dbsession, "editor")
    node = new(request_, inner)
    if sharing == "reader-on-folder":
        set_roles(request_, folder, {"user:reader": {"Reader": True}, "user:other-editor": {"Editor": True}})
    elif sharing == "group-on-folder":
        set_roles(request_, folder, {"group:reviewers": {"Contributor": True}})
    elif sharing == "blocked-below-folder":
        set_roles(request_, folder, {"user:reader": {"Reader": True}})
        set_roles(request_, inner, {"user:other-editor": {"Reader": True}}, inherit=False)
    elif sharing == "reader-on-item":
        set_roles(request_, node, {"user:reader": {"Reader": True}})
    if sharing in ("folders-published", "folder-retracted", "owner-revoked", "owner-reader-only",
                   "owner-role-by-group"):
        for container in (folder, inner):
            content.set_state(request_, container, "published", "test")
    if sharing == "folder-retracted":  # the item inside stays published, but not public
        content.set_state(request_, folder, "private", "retract")
    if sharing in ("owner-revoked", "owner-reader-only", "owner-role-by-group"):
        # the editor owns the item; their roles in the unit go (all, or all but Reader)
        set_roles(request_, town, {"user:editor": {"Reader": sharing == "owner-reader-only",
                                                   "Contributor": False, "Editor": False}})
    if sharing == "owner-role-by-group":  # ... and come back through a group granted on the folder
        from portal.models import Group
        group = Group(name="hmz-team", title="黄梅镇小组", roles="")
        dbsession.add(group)
        dbsession.scalar(select(User).where(User.login == "editor")).groups.append(group)
        set_roles(request_, folder, {"group:hmz-team": {"Contributor": True}})
    if state != "private":
        content.set_state(request_, node, state, "test")
    for who in WHO:
        assert finds(request_, node, who) == can_view(request_, node, who), (who, state, sharing)
    if sharing in ("owner-revoked", "owner-reader-only", "owner-role-by-group"):
        may_edit = as_user(request_, dbsession, "editor") or request_.has_permission("edit", node)
        as_user(request_, dbsession, None)
        assert bool(may_edit) == (sharing == "owner-role-by-group" and state != "pending"), (state, sharing)


def test_role_chain_stops_at_the_node_that_blocks_inheritance(request_, dbsession, town):
    as_user(request_, dbsession, "manager")
    folder = new(request_, town, "Folder", title="栏目")
    inner = new(request_, folder, "Folder", title="子栏目")
    node = new(request_, inner)
    assert role_chain(node) == [node, inner, folder, town, town.parent]
    inner.inherit_roles = False
    assert role_chain(node) == [node, inner]
    assert role_chain(node, lineage=[node, inner, folder]) == [node, inner]


def test_public_now_is_published_within_the_dates(request_, dbsession, town):
    now = utcnow()
    made = {}
    for key, dates in {"plain": {}, "future": {"effective": now + dt.timedelta(days=1)},
                       "expired": {"expires": now - dt.timedelta(days=1)},
                       "window": {"effective": now - dt.timedelta(days=1), "expires": now + dt.timedelta(days=1)},
                       "private": {}}.items():
        made[key] = new(request_, town, title=key, **dates)
        if key != "private":
            content.set_state(request_, made[key], "published", "publish")
    dbsession.flush()
    ids = {n.id for n in made.values()}
    public = set(dbsession.scalars(select(Node.id).where(Node.id.in_(ids), *public_now(now))))
    assert public == {made["plain"].id, made["window"].id}
    assert all(made[k].is_public_now(now) == (made[k].id in public) for k in ("plain", "future", "expired", "window"))
    # the same question asked of a row in Python (the site map's columns)
    assert {n.id for n in made.values() if public_in_itself(n.state, n.effective, n.expires, now)} == public


def test_public_now_needs_every_container_above_to_be_public(request_, dbsession, town):
    """A published item below a folder that is not published is not listed publicly (nor, the
    matrix above shows, viewable by anonymous or found by them)."""
    as_user(request_, dbsession, "manager")
    folder = new(request_, town, "Folder", title="栏目")
    inner = new(request_, folder, "Folder", title="子栏目")
    node = new(request_, inner)
    sibling = new(request_, town, title="旁边")
    for n in (inner, node, sibling):
        content.set_state(request_, n, "published", "publish")
    dbsession.flush()

    def listed() -> set[int]:
        dbsession.flush()
        return set(dbsession.scalars(select(Node.id).where(Node.id.in_([inner.id, node.id, sibling.id]),
                                                          *public_now())))

    assert listed() == {sibling.id}  # the outer folder is private
    content.set_state(request_, folder, "published", "publish")
    assert listed() == {inner.id, node.id, sibling.id}
    content.set_state(request_, inner, "pending", "test")
    assert listed() == {sibling.id}
    assert Everyone not in viewers(dbsession, node) and not can_view(request_, node, None)
    content.set_state(request_, inner, "published", "publish")
    content.set_state(request_, town, "private", "retract")  # a whole unit site taken offline
    assert listed() == set()
    assert Everyone not in viewers(dbsession, sibling) and not can_view(request_, sibling, None)


def test_viewers_and_public_now_agree_on_a_deep_tree(request_, dbsession, town):
    """Every combination of states of three nested folders: the SQL, the ACL and `viewers` agree."""
    import itertools
    as_user(request_, dbsession, "manager")
    a = new(request_, town, "Folder", title="甲")
    b = new(request_, a, "Folder", title="乙")
    c = new(request_, b, "Folder", title="丙")
    item = new(request_, c, title="项")
    content.set_state(request_, item, "published", "publish")
    for states in itertools.product(["private", "pending", "published"], repeat=3):
        for folder, state in zip((a, b, c), states):
            folder.state = state
        dbsession.flush()
        listed = dbsession.scalar(select(Node.id).where(Node.id == item.id, *public_now())) is not None
        expected = all(s == "published" for s in states)
        assert listed == expected == (Everyone in viewers(dbsession, item)) == can_view(request_, item, None), states


# --- allowed principals per state ---------------------------------------------------------------

@pytest.mark.parametrize("state", ["private", "pending"])
def test_staff_states_allow_the_staff_roles_the_owner_and_the_units_editors(request_, dbsession, town, state):
    node = new(request_, town)
    node.state = state
    assert viewers(dbsession, node) == sorted(STAFF + ["user:editor"])


def test_published_allows_everyone_and_the_staff_who_see_it_outside_its_dates(request_, dbsession, town):
    """Everyone within the effective window (the query applies it); staff whatever the dates."""
    node = new(request_, town)
    content.set_state(request_, node, "published", "publish")
    allowed = viewers(dbsession, node)
    assert Everyone in allowed
    assert {"role:Reviewer", "role:Manager", "user:editor"} <= set(allowed)
    assert "user:other-editor" not in allowed


def test_the_owner_is_allowed_without_a_local_role(request_, dbsession, users):
    """The manager writes in 孔垄镇: the owner and 孔垄镇's editor may find it, 黄梅镇's editor may not."""
    as_user(request_, dbsession, "manager")
    node = new(request_, unit(dbsession, "孔垄镇"))
    assert node.owner == "manager"
    assert viewers(dbsession, node) == sorted(STAFF + ["user:manager", "user:other-editor"])


@pytest.mark.parametrize("state", ["private", "pending", "published"])
@pytest.mark.parametrize("who", [None, "editor", "other-editor", "reviewer", "manager"])
def test_viewers_agree_with_the_security_policy_per_state(request_, dbsession, town, state, who):
    node = new(request_, town)
    if state != "private":
        content.set_state(request_, node, state, "test")
    assert finds(request_, node, who) == can_view(request_, node, who)


# --- local roles --------------------------------------------------------------------------------

def test_local_roles_on_a_parent_are_inherited(request_, dbsession, town):
    as_user(request_, dbsession, "manager")
    folder = new(request_, town, "Folder", title="栏目")
    inner = new(request_, folder, "Folder", title="子栏目")
    node = new(request_, inner)
    set_roles(request_, folder, {"user:other-editor": {"Reader": True}, "group:reviewers": {"Contributor": True}})
    allowed = viewers(dbsession, node)
    assert {"user:other-editor", "group:reviewers", "user:editor", "user:manager"} <= set(allowed)
    assert can_view(request_, node, "other-editor")


def test_local_roles_stop_where_inheritance_is_blocked(request_, dbsession, town):
    as_user(request_, dbsession, "manager")
    folder = new(request_, town, "Folder", title="栏目")
    inner = new(request_, folder, "Folder", title="子栏目")
    node = new(request_, inner)
    set_roles(request_, folder, {"user:other-editor": {"Reader": True}})
    set_roles(request_, inner, {"user:reviewer": {"Reader": True}}, inherit=False)
    allowed = set(viewers(dbsession, node))
    assert "user:reviewer" in allowed  # granted on the blocking node itself
    assert "user:other-editor" not in allowed and "user:editor" not in allowed  # granted above it
    assert "user:manager" in allowed  # the owner
    assert not can_view(request_, node, "editor") and not can_view(request_, node, "other-editor")


def test_a_local_reader_keeps_finding_a_published_item_outside_its_dates(request_, dbsession, town):
    node = new(request_, town, expires=dt.datetime(2020, 1, 1))
    set_roles(request_, node, {"user:other-editor": {"Reader": True}})
    content.set_state(request_, node, "published", "publish")
    assert "user:other-editor" in viewers(dbsession, node)


def test_local_roles_of_other_branches_do_not_count(request_, dbsession, town):
    node = new(request_, town)
    dbsession.add(LocalRole(node_id=unit(dbsession, "孔垄镇").id, principal="user:reviewer", role="Reader"))
    dbsession.flush()
    assert "user:reviewer" not in viewers(dbsession, node)


