"""`@users` and `@groups` at the portal root, read-only, in plone.restapi's shapes: for managers
(the `manage` permission of the root), and `@users/<login>` for that user too.

Accounts are made, changed and disabled on the management pages (`@@users`) and with
`portal adduser`, where the password rules, the second factor and the audit log apply; the API
does not write them. `?query=text` finds users by login or full name, groups by name or title.
Ours besides plone.restapi's keys: `disabled`, `second_factor` (set up or not), `last_login`.
"""
from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPForbidden, HTTPNotFound
from pyramid.view import view_config
from sqlalchemy import or_, select

from ..models import Group, Portal, User
from .components import endpoint_url
from .errors import json_response
from .serialize import iso


def user_json(request: Any, user: User) -> dict[str, Any]:
    url = f"{endpoint_url(request, request.root, 'users')}/{user.login}"
    groups = [{"id": g.name, "title": g.title or g.name} for g in user.groups]
    return {"@id": url, "id": user.login, "username": user.login, "fullname": user.fullname, "email": user.email,
            "description": "", "home_page": "", "location": "", "portrait": None,
            "roles": sorted({role for g in user.groups for role in g.role_list}) or ["Member"],
            "groups": {"@id": url, "items": groups, "items_total": len(groups)},
            "disabled": user.disabled, "second_factor": user.has_second_factor, "last_login": iso(user.last_login)}


def group_json(request: Any, group: Group, members: list[str]) -> dict[str, Any]:
    url = f"{endpoint_url(request, request.root, 'groups')}/{group.name}"
    return {"@id": url, "id": group.name, "groupname": group.name, "title": group.title or group.name,
            "description": "", "email": "", "roles": group.role_list,
            "members": {"@id": url, "items": members, "items_total": len(members)}}


def manager(request: Any, context: Portal) -> bool:
    return bool(request.has_permission("manage", context))


@view_config(context=Portal, name="@users", request_method="GET", permission="view")
def users(context: Portal, request: Any) -> Any:
    if len(request.subpath) > 1:
        raise HTTPNotFound()
    me = request.identity
    if request.subpath:
        login = request.subpath[0]
        if me is None or (login != me.login and not manager(request, context)):
            raise HTTPForbidden()
        user = request.dbsession.scalar(select(User).where(User.login == login))
        if user is None:
            raise HTTPNotFound()
        return json_response(user_json(request, user))
    if not manager(request, context):
        raise HTTPForbidden()
    found = select(User).order_by(User.login)
    text = request.params.get("query", "").strip()
    if text:
        found = found.where(or_(User.login.contains(text), User.fullname.contains(text)))
    listed = [user_json(request, u) for u in request.dbsession.scalars(found)]
    return json_response({"@id": endpoint_url(request, context, "users"), "items": listed,
                          "items_total": len(listed)})


@view_config(context=Portal, name="@groups", request_method="GET", permission="manage")
def groups(context: Portal, request: Any) -> Any:
    if len(request.subpath) > 1:
        raise HTTPNotFound()
    found = select(Group).order_by(Group.name)
    if request.subpath:
        found = found.where(Group.name == request.subpath[0])
    elif request.params.get("query", "").strip():
        text = request.params["query"].strip()
        found = found.where(or_(Group.name.contains(text), Group.title.contains(text)))
    chosen = list(request.dbsession.scalars(found))
    members: dict[int, list[str]] = {g.id: [] for g in chosen}
    for user in request.dbsession.scalars(select(User).order_by(User.login)):
        for group in user.groups:
            if group.id in members:
                members[group.id].append(user.login)
    listed = [group_json(request, g, members[g.id]) for g in chosen]
    if request.subpath:
        if not listed:
            raise HTTPNotFound()
        return json_response(listed[0])
    return json_response(listed)
