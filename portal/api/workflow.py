"""`@workflow` (run a transition, list the available ones) and `@history` (plone.restapi shapes).

Whether the transition is available and allowed is decided by portal.content.transition, as for
the page's buttons (its Forbidden is a 403, see api.errors), so the views only need `view`. The history is private to the people who may edit or
review the item: it shows drafts and rejection comments.
"""
from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPNotFound
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import select

from .. import content
from ..content import REVISION_KINDS, ContentError
from ..i18n import _
from ..models import Node, User
from ..workflow import STATES, TRANSITIONS
from .errors import APIError, content_error, field_error, json_response
from .fields import read_body, refuse_unknown
from .serialize import field_value, iso, transitions

def state_title(request: Any, state: str) -> str:
    return request.localizer.translate(STATES[state].title) if state in STATES else state


def transition_title(request: Any, name: str, source: str) -> str:
    t = next((t for t in TRANSITIONS if t.name == name and t.source == source), None)
    return request.localizer.translate(t.title) if t is not None else name


def actors(request: Any, logins: set[str | None]) -> dict[str | None, dict[str, Any] | None]:
    names = [login for login in logins if login]
    users = {u.login: u for u in request.dbsession.scalars(select(User).where(User.login.in_(names)))} if names else {}
    result: dict[str | None, dict[str, Any] | None] = {None: None}
    for login in names:
        user = users.get(login)
        result[login] = {"id": login, "fullname": (user.fullname or login) if user else login}
    return result


@view_config(context=Node, name="@workflow", request_method="POST", permission="view")
def run_transition(context: Node, request: Any) -> Response:
    if len(request.subpath) != 1:
        raise HTTPNotFound()
    name = request.subpath[0]
    body = read_body(request, required=False)
    refuse_unknown(request, body, ("comment",))
    comment = body.get("comment", "")
    if comment is None:
        comment = ""
    if not isinstance(comment, str):
        raise APIError(400, _("Some fields have the wrong type"), [field_error(request, "comment", _("Must be text"))])
    try:
        content.transition(request, context, name, comment)
    except ContentError as e:
        raise content_error(request, e) from None
    event = content.history(request, context)[0]
    return json_response({
        "action": event.transition, "review_state": context.state,
        "review_state_title": state_title(request, context.state), "actor": event.actor,
        "time": iso(event.at), "comment": event.comment,
    })


@view_config(context=Node, name="@workflow", request_method="GET", permission="view")
def list_transitions(context: Node, request: Any) -> Response:
    return json_response({"@id": request.resource_url(context, "@workflow"), "review_state": context.state,
                          "transitions": transitions(request, context)})


def history_entries(request: Any, node: Node) -> list[dict[str, Any]]:
    url = request.resource_url(node, "@history")
    revisions = content.revisions(request, node)
    events = content.history(request, node)
    who = actors(request, {r.actor for r in revisions} | {e.actor for e in events})
    entries = [{
        "@id": f"{url}/{r.number}", "type": "versioning", "version": r.number, "action": r.kind,
        "title": request.localizer.translate(REVISION_KINDS.get(r.kind, r.kind)), "actor": who.get(r.actor),
        "time": iso(r.at), "comments": r.comment, "_at": r.at,
    } for r in revisions]
    entries += [{
        "type": "workflow", "action": e.transition, "title": transition_title(request, e.transition, e.from_state),
        "review_state": e.to_state, "state_title": state_title(request, e.to_state), "actor": who.get(e.actor),
        "time": iso(e.at), "comments": e.comment, "_at": e.at,
    } for e in events]
    entries.sort(key=lambda entry: entry["_at"], reverse=True)
    for entry in entries:
        del entry["_at"]
    return entries


def revision_data(request: Any, node: Node, number: str) -> dict[str, Any]:
    """One revision's fields (`@history/<version>`); its files have no links (only current ones do)."""
    revision = next((r for r in content.revisions(request, node) if str(r.number) == number), None)
    if revision is None:
        raise HTTPNotFound()
    cls = type(node)
    return {"@id": request.resource_url(node, "@history", number), "version": revision.number,
            "action": revision.kind, "actor": actors(request, {revision.actor}).get(revision.actor),
            "time": iso(revision.at), "comments": revision.comment,
            "data": {k: field_value(request, node, k, content.load_value(cls, k, v), links=False)
                     for k, v in revision.data.items()}}


@view_config(context=Node, name="@history", request_method="GET", permission="history")
def history(context: Node, request: Any) -> Response:
    if len(request.subpath) > 1:
        raise HTTPNotFound()
    if request.subpath:
        return json_response(revision_data(request, context, request.subpath[0]))
    return json_response(history_entries(request, context))
