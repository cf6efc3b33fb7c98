"""Local roles of one node, as the sharing screen and `@sharing` read and write them."""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from . import events
from .i18n import _
from .models import Group, LocalRole, Node, User
from .security import forget_local_roles
from .visibility import local_grants, role_chain

SHARING_ROLES = (
    ("Reader", _("Can view")),
    ("Contributor", _("Can add")),
    ("Editor", _("Can edit")),
    ("Reviewer", _("Can review")),
)
ROLE_IDS = tuple(r for r, _t in SHARING_ROLES)


def _inherited(request: Any, node: Node) -> dict[str, set[str]]:
    """Roles each principal holds from the parents (until a node blocks inheritance)."""
    result: dict[str, set[str]] = {}
    for grants in local_grants(request.dbsession, role_chain(node)[1:]).values():
        for principal, role in grants:
            result.setdefault(principal, set()).add(role)
    return result


def entries(request: Any, node: Node, extra: list[str] = ()) -> list[dict[str, Any]]:
    """One entry per principal with a role here or above (plus `extra` principals to offer)."""
    local: dict[str, set[str]] = {}
    for principal, role in request.dbsession.execute(
            select(LocalRole.principal, LocalRole.role).where(LocalRole.node_id == node.id)):
        local.setdefault(principal, set()).add(role)
    inherited = _inherited(request, node)
    principals = sorted(set(local) | set(inherited) | set(extra))
    titles = principal_titles(request, principals)
    out = []
    for principal in principals:
        kind, _sep, name = principal.partition(":")
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
    titles = {}
    if logins:
        titles.update({f"user:{u.login}": u.fullname or u.login
                       for u in request.dbsession.scalars(select(User).where(User.login.in_(logins)))})
    if names:
        titles.update({f"group:{g.name}": g.title or g.name
                       for g in request.dbsession.scalars(select(Group).where(Group.name.in_(names)))})
    return titles


def known_principal(request: Any, principal: str) -> bool:
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
            request.dbsession.execute(delete(LocalRole).where(
                LocalRole.node_id == node.id, LocalRole.principal == principal, LocalRole.role == role))
            if granted is True:
                request.dbsession.add(LocalRole(node_id=node.id, principal=principal, role=role))
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
