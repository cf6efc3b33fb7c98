"""The publication workflow, declared as data: states with their permission maps, and transitions.

Plone's simple publication workflow. A state maps each permission to the roles that hold it; the
node's ACL is built from that map (see `acl_for`). A change to a published item by someone without
`review` is kept as a draft (see portal.content) and goes through the same publish/reject
transitions, guarded by `needs_draft`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from pyramid.authorization import DENY_ALL, Allow, Everyone

from .i18n import _

if TYPE_CHECKING:
    from .models import Node

# `history`: the revisions, the transitions with their comments and a waiting change -- what
# the people who work on an item see, not the public. `rename`: the URL name, apart from `edit`
# because renaming a published item changes public addresses at once, with no draft to review.
PERMISSIONS = ("view", "add", "edit", "rename", "delete", "submit", "review", "manage", "history")
ROLES = ("Reader", "Contributor", "Editor", "Reviewer", "Manager", "Owner")
STAFF_VIEW = ("Owner", "Reader", "Contributor", "Editor", "Reviewer", "Manager")
# Ownership is a role only while the owner still writes there: it counts when they also hold one
# of these roles on the item (locally, on it or a parent up to where inheritance is blocked, or
# globally through a group). Revoking an editor's roles so ends their editing of their own drafts;
# a Reader-only former editor may not edit either.
OWNERSHIP_NEEDS = ("Contributor", "Editor", "Manager")


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
        "rename": ("Owner", "Editor", "Manager"),
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
        "rename": ("Reviewer", "Manager"),
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
        # a public address changes at once: the people who decide what is public
        "rename": ("Reviewer", "Manager"),
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
    "view": (Everyone,), "add": ("Manager",), "edit": ("Manager",), "rename": (), "delete": (),
    "submit": (), "review": ("Reviewer", "Manager"), "manage": ("Manager",), "history": ("Reviewer", "Manager"),
}

# A unit's sub-site is the portal's structure, not content: its names and organisation code go into
# every 索引号 issued from then on, its URL name is the address of a whole sub-site, and taking it
# offline takes everything in it off the public site. Only the people who `manage` edit, rename,
# delete or move it through the workflow; its editors keep adding below it. (The root's own map
# already keeps all of this to managers.)
SITE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    permission: ("Manager",) for permission in ("edit", "rename", "delete", "submit", "review")
}


def role_principal(role: str) -> str:
    return role if role == Everyone else f"role:{role}"


# The states whose items the public may see (their `view` names Everyone).
PUBLIC_STATES: tuple[str, ...] = tuple(name for name, s in STATES.items() if Everyone in s.permissions["view"])


def is_site(node: Node) -> bool:
    """A unit's sub-site or the root: see SITE_PERMISSIONS."""
    from .models import Portal, Unit  # the models import this module (Node.__acl__)
    return isinstance(node, (Portal, Unit))


def containers_public(node: Node, lineage: Sequence[Node] | None = None) -> bool:
    """Whether every container above `node` is in a public state: an item is public only while all
    of them are, so retracting a folder (or a unit) takes everything inside it off the public site.

    The one statement of the rule: the ACL (`permission_map`), search's `allowed`
    (`portal.visibility.viewers`) and the SQL of public listings (`portal.visibility.public_now`,
    which finds what lies below the containers that are not public) all follow it. Only the containers' workflow states
    count, not their effective/expiry dates, which date the container's own page (as in Plone).
    The root is not in the workflow and is always public. `lineage` (node first) saves the parent
    loads of a bulk caller; traversal has loaded every parent of the requested item already.
    """
    parents = list(node.lineage())[1:] if lineage is None else lineage[1:]
    return all(p.parent_id is None or p.state in PUBLIC_STATES for p in parents)


def view_roles(node: Node, lineage: Sequence[Node] | None = None) -> tuple[str, ...]:
    """Who may view the item in its state, whatever the date: a public item outside its
    effective/expiry window is seen by the staff only (`permission_map` applies the window),
    and so is one below a container that is not public (`containers_public`)."""
    if node.parent_id is None:
        return ROOT_PERMISSIONS["view"]
    roles = STATES[node.state].permissions["view"]
    if Everyone not in roles:
        return roles
    return (Everyone, *STAFF_VIEW) if containers_public(node, lineage) else STAFF_VIEW


def ownership_counts(roles: Iterable[str]) -> bool:
    """Whether the owner's other roles on the item let ownership count (see OWNERSHIP_NEEDS)."""
    return not set(roles).isdisjoint(OWNERSHIP_NEEDS)


def permission_map(node: Node) -> dict[str, tuple[str, ...]]:
    if node.parent_id is None:
        return ROOT_PERMISSIONS
    perms = STATES[node.state].permissions
    if is_site(node):
        perms = {**perms, **SITE_PERMISSIONS}
    if Everyone in perms["view"] and not (node.is_public_now() and containers_public(node)):
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
