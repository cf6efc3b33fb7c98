"""The workflow declared as data is consistent, and the ACL it builds is what the design says."""
from __future__ import annotations

import datetime as dt

import pytest
from pyramid.authorization import DENY_ALL, Allow, Everyone

from portal.models import Node, Unit
from portal.models.node import utcnow
from portal.workflow import (INITIAL_STATE, OWNERSHIP_NEEDS, PERMISSIONS, PUBLIC_STATES, ROLES, ROOT_PERMISSIONS,
                             SITE_PERMISSIONS, STAFF_VIEW, STATES, TRANSITIONS, acl_for, containers_public,
                             find_transition, ownership_counts, permission_map, role_principal, transitions_from,
                             view_roles)


def node(state: str = "private", draft: dict | None = None, **kw) -> Node:
    """A transient node below the root (parent_id set), so the workflow applies to it."""
    return Node(parent_id=1, name="item", path="/item/", state=state, draft=draft, **kw)


def allowed(acl: list, permission: str) -> set[str]:
    """The principals an ACL allows `permission` to (the ACL has no DENY before DENY_ALL)."""
    return {principal for action, principal, perm in acl[:-1] if action == Allow and perm == permission}


# -- the data -------------------------------------------------------------------------------------

def test_initial_state_is_a_state():
    assert INITIAL_STATE in STATES


@pytest.mark.parametrize("t", TRANSITIONS, ids=lambda t: f"{t.source}-{t.name}")
def test_transition_source_target_and_permission_exist(t):
    assert t.source in STATES
    assert t.target in STATES
    assert t.permission in PERMISSIONS


def test_transition_names_are_unique_per_source_and_draft():
    seen = {(t.source, t.name, t.needs_draft) for t in TRANSITIONS}
    assert len(seen) == len(TRANSITIONS)


def test_draft_transitions_only_on_published_items():
    for t in TRANSITIONS:
        if t.needs_draft:
            assert t.source == t.target == "published", t


def test_every_state_is_reachable_from_the_initial_state():
    reached, frontier = {INITIAL_STATE}, [INITIAL_STATE]
    while frontier:
        state = frontier.pop()
        for t in TRANSITIONS:
            if t.source == state and t.target not in reached:
                reached.add(t.target)
                frontier.append(t.target)
    assert reached == set(STATES)


@pytest.mark.parametrize("state", sorted(STATES))
def test_every_state_maps_every_permission(state):
    perms = STATES[state].permissions
    assert set(perms) == set(PERMISSIONS)
    for roles in perms.values():
        assert isinstance(roles, tuple)
        assert set(roles) <= set(ROLES) | {Everyone}


def test_root_maps_every_permission():
    assert set(ROOT_PERMISSIONS) == set(PERMISSIONS)
    for roles in ROOT_PERMISSIONS.values():
        assert set(roles) <= set(ROLES) | {Everyone}


def test_published_view_is_everyone_and_other_states_are_staff_only():
    assert STATES["published"].permissions["view"] == (Everyone,)
    for name, state in STATES.items():
        if name != "published":
            assert Everyone not in state.permissions["view"]
            assert state.permissions["view"] == STAFF_VIEW


def test_manage_is_manager_only_in_every_state():
    for state in STATES.values():
        assert state.permissions["manage"] == ("Manager",)


def test_role_principal():
    assert role_principal(Everyone) == Everyone
    assert role_principal("Editor") == "role:Editor"


# -- the ACL --------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", sorted(STATES))
def test_acl_ends_with_deny_all(state):
    acl = acl_for(node(state))
    assert acl[-1] == DENY_ALL
    assert DENY_ALL not in acl[:-1]
    assert all(ace[0] == Allow for ace in acl[:-1])


@pytest.mark.parametrize("state", sorted(STATES))
def test_acl_follows_the_state_permission_map(state):
    acl = acl_for(node(state))
    for permission, roles in STATES[state].permissions.items():
        assert allowed(acl, permission) == {role_principal(r) for r in roles}, permission


def test_root_acl_uses_root_permissions():
    root = Node(parent_id=None, name="", path="/", state="private")
    assert permission_map(root) is ROOT_PERMISSIONS
    acl = acl_for(root)
    assert acl[-1] == DENY_ALL
    assert Everyone in allowed(acl, "view")


def test_published_item_is_public():
    assert Everyone in allowed(acl_for(node("published")), "view")


STAFF_PRINCIPALS = {role_principal(r) for r in STAFF_VIEW}


@pytest.mark.parametrize("dates", [
    {"effective": utcnow() + dt.timedelta(days=1)},
    {"expires": utcnow() - dt.timedelta(minutes=1)},
    {"effective": utcnow() - dt.timedelta(days=2), "expires": utcnow() - dt.timedelta(days=1)},
], ids=["future-effective", "past-expiry", "window-in-the-past"])
def test_dates_outside_window_remove_public_view_but_keep_staff_view(dates):
    item = node("published", **dates)
    assert not item.is_public_now()
    acl = acl_for(item)
    view = allowed(acl, "view")
    assert Everyone not in view
    assert view == STAFF_PRINCIPALS
    # the other permissions of the published state are untouched
    for permission in PERMISSIONS:
        if permission != "view":
            assert allowed(acl, permission) == {role_principal(r)
                                                for r in STATES["published"].permissions[permission]}
    assert acl[-1] == DENY_ALL


@pytest.mark.parametrize("dates", [
    {},
    {"effective": utcnow() - dt.timedelta(days=1)},
    {"expires": utcnow() + dt.timedelta(days=1)},
    {"effective": utcnow() - dt.timedelta(days=1), "expires": utcnow() + dt.timedelta(days=1)},
], ids=["no-dates", "past-effective", "future-expiry", "inside-window"])
def test_dates_inside_window_keep_public_view(dates):
    assert Everyone in allowed(acl_for(node("published", **dates)), "view")


def test_expiry_is_exclusive():
    now = utcnow()
    item = node("published", expires=now)
    assert not item.is_public_now(now)
    assert item.is_public_now(now - dt.timedelta(seconds=1))


def test_dates_do_not_matter_for_non_public_states():
    item = node("private", effective=utcnow() + dt.timedelta(days=1))
    assert allowed(acl_for(item), "view") == STAFF_PRINCIPALS


def test_permission_map_does_not_mutate_the_state_data():
    before = dict(STATES["published"].permissions)
    permission_map(node("published", effective=utcnow() + dt.timedelta(days=1)))
    assert STATES["published"].permissions == before
    assert STATES["published"].permissions["view"] == (Everyone,)


# -- renames, sites, containers, ownership ---------------------------------------------------------

def test_renaming_a_published_item_needs_review():
    """A public address changes at once, with no draft: the people who review decide it."""
    assert STATES["published"].permissions["rename"] == STATES["published"].permissions["review"]
    assert STATES["private"].permissions["rename"] == STATES["private"].permissions["edit"]
    assert ROOT_PERMISSIONS["rename"] == ()


@pytest.mark.parametrize("state", sorted(STATES))
def test_units_are_edited_renamed_deleted_and_moved_through_the_workflow_by_managers_only(state):
    """A unit's names and org_code go into every future 索引号: editors add below it, no more."""
    unit = Unit(parent_id=1, name="town", path="/town/", state=state)
    acl = acl_for(unit)
    for permission in ("edit", "rename", "delete", "submit", "review"):
        assert allowed(acl, permission) == {"role:Manager"}, permission
    assert allowed(acl, "add") == {role_principal(r) for r in STATES[state].permissions["add"]}
    assert set(SITE_PERMISSIONS) <= set(PERMISSIONS)
    assert acl[-1] == DENY_ALL


def below(*states: str, item_state: str = "published") -> Node:
    """A transient item below containers in `states` (outermost first), below the root."""
    parent = Node(parent_id=None, name="", path="/", state="published")  # the root: not in the workflow
    path = "/"
    for i, state in enumerate(states):
        path += f"f{i}/"
        parent = Node(parent_id=i + 1, parent=parent, name=f"f{i}", path=path, state=state)
    return Node(parent_id=len(states) + 1, parent=parent, name="item", path=path + "item/", state=item_state)


@pytest.mark.parametrize("states", [("published",), ("published", "published"), ()])
def test_an_item_below_public_containers_is_public(states):
    item = below(*states)
    assert containers_public(item)
    assert Everyone in allowed(acl_for(item), "view") and Everyone in view_roles(item)


@pytest.mark.parametrize("states", [("private",), ("pending",), ("published", "private"), ("private", "published")])
def test_an_item_below_a_container_that_is_not_public_is_staff_only(states):
    """Retracting a folder takes everything inside it off the public site."""
    item = below(*states)
    assert not containers_public(item)
    assert allowed(acl_for(item), "view") == STAFF_PRINCIPALS
    assert view_roles(item) == STAFF_VIEW
    # the other permissions of the item's own state are untouched
    assert allowed(acl_for(item), "edit") == {role_principal(r) for r in STATES["published"].permissions["edit"]}


def test_public_states_are_those_everyone_may_view():
    assert PUBLIC_STATES == ("published",)


def test_ownership_counts_only_with_a_writing_role():
    assert not ownership_counts([])
    assert not ownership_counts(["Reader"])
    assert not ownership_counts(["Reviewer"])
    for role in OWNERSHIP_NEEDS:
        assert ownership_counts(["Reader", role])
    assert set(OWNERSHIP_NEEDS) <= set(ROLES) - {"Owner"}


# -- transitions from a state ---------------------------------------------------------------------

def names(transitions) -> list[tuple[str, str]]:
    return [(t.name, t.target) for t in transitions]


@pytest.mark.parametrize("state, draft, expected", [
    ("private", None, [("submit", "pending")]),
    ("pending", None, [("publish", "published"), ("reject", "private")]),
    ("published", None, [("retract", "private")]),
    ("published", {"title": "changed"},
     [("retract", "private"), ("publish", "published"), ("reject", "published")]),
], ids=["private", "pending", "published-no-draft", "published-with-draft"])
def test_transitions_from(state, draft, expected):
    assert names(transitions_from(node(state, draft=draft))) == expected


def test_draft_transitions_are_hidden_without_a_draft():
    assert all(not t.needs_draft for t in transitions_from(node("published")))
    assert find_transition(node("published"), "publish") is None
    assert find_transition(node("published"), "reject") is None


def test_find_transition_prefers_the_draft_transition_on_published_items():
    item = node("published", draft={"title": "changed"})
    publish = find_transition(item, "publish")
    reject = find_transition(item, "reject")
    assert publish.needs_draft and publish.target == "published"
    assert reject.needs_draft and reject.comment_required


def test_find_transition_from_pending():
    item = node("pending")
    assert find_transition(item, "publish").target == "published"
    assert find_transition(item, "reject").comment_required
    assert find_transition(item, "submit") is None
    assert find_transition(item, "retract") is None
