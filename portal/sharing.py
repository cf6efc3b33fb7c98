"""Local roles of one node, as the sharing screen and `@sharing` read and write them, and the
items below it whose owners lost their roles (`orphaned`)."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from pyramid.authorization import Authenticated
from sqlalchemy import or_, select

from . import events
from .i18n import _
from .models import Group, LocalRole, Node, User
from .security import forget_local_roles
from .visibility import local_grants, memberships, owner_roles, role_chain
from .workflow import ownership_counts

ORPHANS_SHOWN = 200  # the sharing screen lists this many; `orphaned` also counts them all

SHARING_ROLES = (
    ("Reader", _("Can view")),
    ("Contributor", _("Can add")),
    ("Editor", _("Can edit")),
    ("Reviewer", _("Can review")),
)
ROLE_IDS = tuple(r for r, _t in SHARING_ROLES)
# Roles may be granted to every logged-in user at once (Plone's AuthenticatedUsers group).
LOGGED_IN = _("Logged-in users")


def _inherited(request: Any, node: Node) -> dict[str, set[str]]:
    """Roles each principal holds from the parents (until a node blocks inheritance)."""
    result: dict[str, set[str]] = {}
    for grants in local_grants(request.dbsession, role_chain(node)[1:]).values():
        for principal, role in grants:
            result.setdefault(principal, set()).add(role)
    return result


def entries(request: Any, node: Node, extra: list[str] = ()) -> list[dict[str, Any]]:
    """One entry per principal with a role here or above (plus `extra` principals to offer),
    every logged-in user (`Authenticated`) first, as Plone's sharing screen lists them."""
    local: dict[str, set[str]] = {}
    for principal, role in request.dbsession.execute(
            select(LocalRole.principal, LocalRole.role).where(LocalRole.node_id == node.id)):
        local.setdefault(principal, set()).add(role)
    inherited = _inherited(request, node)
    principals = [Authenticated, *sorted((set(local) | set(inherited) | set(extra)) - {Authenticated})]
    titles = principal_titles(request, principals)
    out = []
    for principal in principals:
        kind, _sep, name = ("group", "", None) if principal == Authenticated else principal.partition(":")
        roles: dict[str, Any] = {}
        for role in ROLE_IDS:
            if role in local.get(principal, ()):
                roles[role] = True
            elif role in inherited.get(principal, ()):
                roles[role] = "acquired"
            else:
                roles[role] = False
        out.append({"id": principal, "login": name, "type": kind, "title": titles.get(principal, name),
                    "roles": roles})
    return out


def principal_titles(request: Any, principals: list[str]) -> dict[str, str]:
    logins = [p[5:] for p in principals if p.startswith("user:")]
    names = [p[6:] for p in principals if p.startswith("group:")]
    titles = {Authenticated: request.localizer.translate(LOGGED_IN)} if Authenticated in principals else {}
    if logins:
        titles.update({f"user:{u.login}": u.fullname or u.login
                       for u in request.dbsession.scalars(select(User).where(User.login.in_(logins)))})
    if names:
        titles.update({f"group:{g.name}": g.title or g.name
                       for g in request.dbsession.scalars(select(Group).where(Group.name.in_(names)))})
    return titles


def known_principal(request: Any, principal: str) -> bool:
    if principal == Authenticated:
        return True
    kind, _sep, name = principal.partition(":")
    if kind == "user":
        return request.dbsession.scalar(select(User.id).where(User.login == name)) is not None
    if kind == "group":
        return request.dbsession.scalar(select(Group.id).where(Group.name == name)) is not None
    return False


def set_roles(request: Any, node: Node, changes: dict[str, dict[str, bool]], inherit: bool | None = None) -> None:
    """Grant or revoke local roles ({principal: {role: granted}}); unknown principals are refused."""
    for principal, roles in changes.items():
        if not known_principal(request, principal):
            raise ValueError(principal)
        for role, granted in roles.items():
            if role not in ROLE_IDS:
                raise ValueError(role)
            held = request.dbsession.scalars(select(LocalRole).where(
                LocalRole.node_id == node.id, LocalRole.principal == principal, LocalRole.role == role)).all()
            if granted is True and not held:
                request.dbsession.add(LocalRole(node_id=node.id, principal=principal, role=role))
            elif granted is not True:
                for row in held:  # one by one, so the flush sees them (portal.pagecache.people)
                    request.dbsession.delete(row)
    if inherit is not None:
        node.inherit_roles = inherit
    request.dbsession.flush()
    forget_local_roles(request)  # the request's cached roles are stale now
    events.notify(request, events.LocalRolesChanged(node, request))


def search_principals(request: Any, text: str, limit: int = 20) -> list[str]:
    like = f"%{text}%"
    users = request.dbsession.scalars(select(User).where(
        User.login.ilike(like) | User.fullname.ilike(like)).limit(limit))
    groups = request.dbsession.scalars(select(Group).where(
        Group.name.ilike(like) | Group.title.ilike(like)).limit(limit))
    return [u.principal for u in users] + [g.principal for g in groups]


def orphaned(request: Any, node: Node, limit: int = ORPHANS_SHOWN) -> tuple[list[dict[str, Any]], int]:
    """The items at or below `node` whose owner holds no role there that lets ownership count
    (`portal.workflow.ownership_counts`), e.g. an editor whose roles were revoked: their ownership
    grants them nothing now, and someone else must take the items over. The first `limit` of them
    by path, and how many there are.

    Read as columns, not objects, with the local roles of the subtree and of the node's parents in
    one query: a unit holds thousands of items and the screen must stay quick."""
    session = request.dbsession
    parents = list(node.lineage())[1:]
    subtree = select(Node.id).where(Node.path.like(f"{node.path}%"))
    rows = session.execute(select(Node.id, Node.parent_id, Node.inherit_roles, Node.owner, Node.title, Node.path)
                           .where(Node.id.in_(subtree)).order_by(Node.path)).all()
    by_id: dict[int, Any] = {p.id: p for p in parents}
    by_id.update((r.id, r) for r in rows)
    grants: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for node_id, principal, role in session.execute(
            select(LocalRole.node_id, LocalRole.principal, LocalRole.role)
            .where(or_(LocalRole.node_id.in_(subtree), LocalRole.node_id.in_([p.id for p in parents])))):
        grants[node_id].append((principal, role))
    owners = {r.owner for r in rows if r.owner}
    memberships(session, owners)  # every owner's groups in one query, for `owner_roles`
    found = []
    for row in rows:
        if not row.owner:
            continue
        lineage = [row]
        while lineage[-1].parent_id in by_id:
            lineage.append(by_id[lineage[-1].parent_id])
        if not ownership_counts(owner_roles(session, row, role_chain(row, lineage), grants)):
            found.append(row)
    titles = principal_titles(request, [f"user:{r.owner}" for r in found[:limit]])
    return [{"title": r.title, "path": r.path, "url": request.application_url + r.path, "owner": r.owner,
             "owner_title": titles.get(f"user:{r.owner}", r.owner)} for r in found[:limit]], len(found)
