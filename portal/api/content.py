"""The content URLs as a JSON API: GET reads, POST adds a child, PATCH edits, DELETE deletes.

Every change goes through portal.content, as the pages' changes do. Statuses:

- POST: 201 with `Location` and the new item.
- PATCH: 204 (plone.restapi's answer), or 200 with the item when asked for with
  `Prefer: return=representation`; 202 with the item when the item is published and the editor
  may not review (ours): the change is kept as a draft (`has_pending_change: true`,
  `pending_change`) and the public keeps seeing the published version until a reviewer runs
  `@workflow/publish`.
- DELETE: 204.

Concurrency: GET sends `ETag: "<id>-<version>"`. PATCH and DELETE honour `If-Match` (412 when
stale); a PATCH body may instead carry the `version` it started from (409 when stale, as the edit
form does). A value that must be unique and that another item holds (a unit's organisation code,
a 索引号) is a 409 naming the field, with the message the forms show.

Every decision about a change is portal.content's; these views read JSON and translate its errors
(api.errors): ContentError 400 with the field, Conflict and Taken 409, Forbidden 401/403.
"""
from __future__ import annotations

import re
from typing import Any

from pyramid.events import NewResponse, subscriber
from pyramid.response import Response

from .. import content
from ..content import Conflict, ContentError
from ..i18n import _
from ..models import Node
from ..pagecache.tween import personal
from ..registry import find_type, type_info
from . import item_view
from .errors import APIError, content_error, field_error, json_response
from .fields import deserialize, read_body
from .serialize import etag, item, item_url

_TAG = re.compile(r'^(?:W/)?"?(\d+)-(\d+)"?$')


def item_response(request: Any, node: Node, status: int = 200, **headers: str) -> Response:
    """The item; for a user, with the ETag that `If-Match` names. A visitor, who cannot change it,
    gets the page cache's validators instead (portal.pagecache), which follow its items too."""
    response = json_response(item(request, node), status, headers)
    if personal(request) or request.method != "GET":
        response.headers["ETag"] = f'"{etag(node)}"'
        response.headers["Vary"] = "Accept, Authorization, Cookie"
        response.headers["Cache-Control"] = "private, no-cache"
    return response


def if_match_version(request: Any, node: Node) -> int | None:
    """The version `If-Match` names for this item; None without the header; 412 if it names another."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    for tag in header.split(","):
        match = _TAG.match(tag.strip())
        if match and int(match.group(1)) == node.id:
            version = int(match.group(2))
            if version == node.version:
                return version
    raise APIError(412, _("This item changed since you loaded it (If-Match does not match its ETag)"))


def no_content(node: Node) -> Response:
    """plone.restapi's answer to a PATCH; the new ETag lets the client edit again without a GET."""
    return Response(status=204, headers={"ETag": f'"{etag(node)}"'})


@item_view(request_method="GET", permission="view")
def get_item(context: Node, request: Any) -> Response:
    return item_response(request, context)


@item_view(request_method="OPTIONS", permission="view")
def item_options(context: Node, request: Any) -> Response:
    return Response(status=204, headers={"Allow": "GET, HEAD, POST, PATCH, DELETE, OPTIONS"})


@item_view(request_method="POST", permission="add")
def add_item(context: Node, request: Any) -> Response:
    """portal.content decides what may be added here, by whom and under which name; this view reads
    the JSON and translates the refusals (ContentError: 400 with the field; Forbidden: 403, see
    api.errors). The type and the name are asked about before the fields are read, as the fields'
    schema is the type's."""
    body = read_body(request)
    type_name, name = body.get("@type"), body.get("id")
    if not isinstance(type_name, str) or not type_name:
        raise APIError(400, _("Say which type to add in @type"), [field_error(request, "@type", _("Required"))])
    known = find_type(request.registry, type_name)  # plone.restapi's names too ("Document")
    try:
        info = content.check_add(request, context, known.name if known is not None else type_name)
        if name is not None and not isinstance(name, str):
            raise APIError(400, _("Some fields have the wrong type"), [field_error(request, "id", _("Must be text"))])
        content.check_name(context, name or None)
        appstruct = deserialize(request, info, body)
        node = content.create(request, context, info.name, appstruct, name=name or None)
    except ContentError as e:
        raise content_error(request, e) from None
    return item_response(request, node, 201, Location=item_url(request, node))


@item_view(request_method="PATCH", permission="edit")
def edit_item(context: Node, request: Any) -> Response:
    expected = if_match_version(request, context)
    body = read_body(request)
    conflict_status = 412 if expected is not None else 409
    if "version" in body:
        version = body["version"]
        if not isinstance(version, int) or isinstance(version, bool):
            raise APIError(400, _("Some fields have the wrong type"),
                           [field_error(request, "version", _("Must be a whole number"))])
        if expected is None:
            expected = version
    info = type_info(request.registry, context.type)
    if info is None:
        raise APIError(400, _("This item cannot be edited"))
    if "@type" in body and find_type(request.registry, body["@type"]) is not info:
        raise APIError(400, _("Some fields are not valid"),
                       [field_error(request, "@type", _("The type of an item cannot be changed"))])
    appstruct = deserialize(request, info, body, context)
    try:
        outcome = content.save(request, context, appstruct, expected_version=expected)
        if body.get("id") not in (None, context.name):  # plone.restapi's short name: a rename
            content.rename(request, context, body["id"] if isinstance(body["id"], str) else "")
    except Conflict as e:
        raise content_error(request, e, status=conflict_status) from None
    except ContentError as e:
        raise content_error(request, e) from None
    if outcome == "draft":  # ours: the client must learn that the public sees no change yet
        return item_response(request, context, 202)
    if request.headers.get("Prefer", "").replace(" ", "").lower() == "return=representation":
        return item_response(request, context)
    return no_content(context)


@item_view(request_method="DELETE", permission="delete")
def delete_item(context: Node, request: Any) -> Response:
    if_match_version(request, context)
    try:
        content.delete(request, context)
    except ContentError as e:
        raise content_error(request, e) from None
    return Response(status=204)


@subscriber(NewResponse)
def vary_on_accept(event: NewResponse) -> None:
    """A content URL answers HTML or JSON by `Accept`: caches must keep the two apart. So does every
    error (each has a page and a JSON answer) -- and a missing item and one that must look missing
    (`portal.views.errors.as_missing`) must not differ even in this header."""
    request = event.request
    if event.response.status_code >= 400 or (
            getattr(request, "view_name", None) == "" and isinstance(getattr(request, "context", None), Node)):
        vary = tuple(event.response.vary or ())
        if "Accept" not in vary:
            event.response.vary = vary + ("Accept",)
