"""The publication workflow, declared as data: states with their permission maps, and transitions.

Plone's simple publication workflow. A state maps each permission to the roles that hold it; the
node's ACL is built from that map (see `acl_for`). A change to a published item by someone without
`review` is kept as a draft (see portal.content) and goes through the same publish/reject
transitions, guarded by `needs_draft`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyramid.authorization import DENY_ALL, Allow, Everyone

from .i18n import _

if TYPE_CHECKING:
    from .models import Node

# `history`: the revisions, the transitions with their comments and a waiting change -- what
# the people who work on an item see, not the public.
PERMISSIONS = ("view", "add", "edit", "delete", "submit", "review", "manage", "history")
ROLES = ("Reader", "Contributor", "Editor", "Reviewer", "Manager", "Owner")
STAFF_VIEW = ("Owner", "Reader", "Contributor", "Editor", "Reviewer", "Manager")


@dataclass(frozen=True)
class State:
    name: str
    title: Any
    permissions: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Transition:
    name: str
    title: Any
    source: str
    target: str
    permission: str
    comment_required: bool = False
    needs_draft: bool = False  # only for published items with a change waiting for review


STATES: dict[str, State] = {s.name: s for s in (
    State("private", _("Private"), {
        "view": STAFF_VIEW,
        "add": ("Contributor", "Manager"),
        "edit": ("Owner", "Editor", "Manager"),
        "delete": ("Owner", "Editor", "Manager"),
        "submit": ("Owner", "Editor", "Manager"),
        "review": ("Reviewer", "Manager"),
        "manage": ("Manager",),
        "history": ("Owner", "Editor", "Reviewer", "Manager"),
    }),
    State("pending", _("Pending review"), {
        "view": STAFF_VIEW,
        "add": ("Contributor", "Manager"),
        "edit": ("Reviewer", "Manager"),
        "delete": ("Manager",),
        "submit": (),
        "review": ("Reviewer", "Manager"),
        "manage": ("Manager",),
        "history": ("Reviewer", "Manager"),
    }),
    State("published", _("Published"), {
        "view": (Everyone,),
        "add": ("Contributor", "Manager"),
        "edit": ("Owner", "Editor", "Manager"),
        "delete": ("Manager",),
        "submit": (),
        "review": ("Reviewer", "Manager"),
        "manage": ("Manager",),
        "history": ("Owner", "Editor", "Reviewer", "Manager"),
    }),
)}
INITIAL_STATE = "private"

TRANSITIONS: tuple[Transition, ...] = (
    Transition("submit", _("Submit for review"), "private", "pending", "submit"),
    Transition("publish", _("Publish"), "pending", "published", "review"),
    Transition("reject", _("Reject"), "pending", "private", "review", comment_required=True),
    Transition("retract", _("Retract"), "published", "private", "review"),
    Transition("publish", _("Approve change"), "published", "published", "review", needs_draft=True),
    Transition("reject", _("Reject change"), "published", "published", "review",
               comment_required=True, needs_draft=True),
)

# The root is not in the workflow: everyone sees it, managers run it.
ROOT_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "view": (Everyone,), "add": ("Manager",), "edit": ("Manager",), "delete": (),
    "submit": (), "review": ("Reviewer", "Manager"), "manage": ("Manager",), "history": ("Reviewer", "Manager"),
}


def role_principal(role: str) -> str:
    return role if role == Everyone else f"role:{role}"


def view_roles(node: Node) -> tuple[str, ...]:
    """Who may view the item in its state, whatever the date: a public item outside its
    effective/expiry window is seen by the staff only (`permission_map` applies the window)."""
    if node.parent_id is None:
        return ROOT_PERMISSIONS["view"]
    roles = STATES[node.state].permissions["view"]
    return (Everyone, *STAFF_VIEW) if Everyone in roles else roles


def permission_map(node: Node) -> dict[str, tuple[str, ...]]:
    if node.parent_id is None:
        return ROOT_PERMISSIONS
    perms = STATES[node.state].permissions
    if Everyone in perms["view"] and not node.is_public_now():
        perms = {**perms, "view": STAFF_VIEW}
    return perms


def acl_for(node: Node) -> list[tuple[str, str, str] | tuple[str, str, tuple[str, ...]]]:
    """Every node ends with DENY_ALL: nothing is inherited from the parent's state."""
    acl: list[Any] = []
    for permission, roles in permission_map(node).items():
        for role in roles:
            acl.append((Allow, role_principal(role), permission))
    acl.append(DENY_ALL)
    return acl


def transitions_from(node: Node) -> list[Transition]:
    if node.parent_id is None:
        return []  # the root is not in the workflow
    has_draft = node.draft is not None
    return [t for t in TRANSITIONS if t.source == node.state and (has_draft or not t.needs_draft)]


def find_transition(node: Node, name: str) -> Transition | None:
    return next((t for t in transitions_from(node) if t.name == name), None)


def allowed_transitions(request: Any, node: Node) -> list[Transition]:
    return [t for t in transitions_from(node) if request.has_permission(t.permission, node)]
