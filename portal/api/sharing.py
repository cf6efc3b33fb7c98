"""`@sharing`: the local roles of an item, read and written as plone.restapi does.

GET gives `{"inherit", "available_roles", "entries"}`; an entry's roles are true (granted here),
"acquired" (granted on a parent and inherited) or false; `disabled` is always false (every role
listed may be changed here: global roles are not listed). `?search=text` adds matching users and
groups as entries without roles, to pick from. The first entry is plone.restapi's
`AuthenticatedUsers` group: every logged-in user. POST takes `{"inherit"?, "entries"?: [{"id",
"type"?, "roles": {role: bool}}]}`: `id` is a principal (`user:<login>`, `group:<name>`), a
login/group name with `type` "user"/"group", or `AuthenticatedUsers`; a role set to "acquired" is
not granted here. The whole body is checked before anything is written; the answer is 204, as
plone.restapi's.

Beyond plone.restapi: `orphaned` lists the items at or below whose owner no longer holds a role
there that lets ownership count (`portal.sharing.orphaned`: `@id`, `title`, `owner` {id, title}),
the first 200 by path, and `orphaned_total` counts them all.
"""
from __future__ import annotations

from typing import Any

from pyramid.authorization import Authenticated
from pyramid.response import Response
from pyramid.view import view_config

from .. import sharing
from ..i18n import _
from ..models import Node
from .errors import APIError, field_error, json_response
from .fields import UNKNOWN_FIELD, read_body, refuse_unknown

# plone.restapi's names of our principals, both ways.
PRINCIPALS = {"AuthenticatedUsers": Authenticated}
PLONE_NAMES = {principal: name for name, principal in PRINCIPALS.items()}
ENTRY_KEYS = ("id", "type", "roles", "title", "login", "disabled")  # the last three as GET gives them


def sharing_state(request: Any, node: Node, extra: list[str] = ()) -> dict[str, Any]:
    orphans, total = sharing.orphaned(request, node)
    return {
        "@id": request.resource_url(node, "@sharing"),
        "inherit": node.inherit_roles,
        "available_roles": [{"id": role, "title": request.localizer.translate(title)}
                            for role, title in sharing.SHARING_ROLES],
        "entries": [{**entry, "id": PLONE_NAMES.get(entry["id"], entry["id"]), "disabled": False}
                    for entry in sharing.entries(request, node, extra=list(extra))],
        "orphaned": [{"@id": o["url"], "title": o["title"], "owner": {"id": o["owner"], "title": o["owner_title"]}}
                     for o in orphans],
        "orphaned_total": total,
    }


@view_config(context=Node, name="@sharing", request_method="GET", permission="manage")
def get_sharing(context: Node, request: Any) -> Response:
    query = request.params.get("search", "").strip()
    found = sharing.search_principals(request, query) if query else []
    return json_response(sharing_state(request, context, found))


def principal_of(entry: dict[str, Any]) -> str | None:
    ident, kind = entry.get("id"), entry.get("type")
    if not isinstance(ident, str) or not ident:
        return None
    if ident in PRINCIPALS:
        return PRINCIPALS[ident]
    if ident.startswith(("user:", "group:")):
        return ident
    return f"{kind}:{ident}" if kind in ("user", "group") else None


def parse_changes(request: Any, body: dict[str, Any]) -> dict[str, dict[str, bool]]:
    """{principal: {role: granted}}, or a 400 listing every bad entry."""
    entries = body.get("entries", [])
    if not isinstance(entries, list):
        raise APIError(400, _("Some fields have the wrong type"), [field_error(request, "entries", _("Must be a list"))])
    errors, changes = [], {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            errors.append(field_error(request, f"entries.{i}", _("Must be an object")))
            continue
        errors += [field_error(request, f"entries.{i}.{key}", UNKNOWN_FIELD) for key in entry if key not in ENTRY_KEYS]
        principal = principal_of(entry)
        if principal is None or not sharing.known_principal(request, principal):
            errors.append(field_error(request, f"entries.{i}.id", _("Unknown user or group.")))
            continue
        roles = entry.get("roles", {})
        if not isinstance(roles, dict):
            errors.append(field_error(request, f"entries.{i}.roles", _("Must be an object")))
            continue
        for role, granted in roles.items():
            if role not in sharing.ROLE_IDS:
                errors.append(field_error(request, f"entries.{i}.roles.{role}", _("Unknown role")))
            elif not isinstance(granted, bool) and granted != "acquired":
                errors.append(field_error(request, f"entries.{i}.roles.{role}", _("Must be true or false")))
            else:
                changes.setdefault(principal, {})[role] = granted is True
    if errors:
        raise APIError(400, _("Some entries are not valid"), errors)
    return changes


@view_config(context=Node, name="@sharing", request_method="POST", permission="manage")
def set_sharing(context: Node, request: Any) -> Response:
    body = read_body(request)
    refuse_unknown(request, body, ("inherit", "entries"))
    inherit = body.get("inherit")
    if inherit is not None and not isinstance(inherit, bool):
        raise APIError(400, _("Some fields have the wrong type"),
                       [field_error(request, "inherit", _("Must be true or false"))])
    changes = parse_changes(request, body)
    sharing.set_roles(request, context, changes, inherit=inherit)  # it tells LocalRolesChanged
    return Response(status=204)
