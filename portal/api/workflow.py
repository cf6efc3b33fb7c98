"""`@workflow` (the state, its history and the transitions; run one) and `@history` (revisions and
transitions; revert to a revision), in plone.restapi's shapes.

Whether a transition is available and allowed is decided by portal.content.transition, as for
the page's buttons (its Forbidden is a 403, see api.errors), so the views only need `view`. A
transition may carry `effective` and `expires`, saved (as an edit) before it runs, and
`include_children`: then it also runs on everything below, as plone.restapi does -- an item where
it is not available is an error unless it is in the transition's target state already.

The history is private to the people who may edit or review the item (it shows drafts and
rejection comments): `@workflow` gives others an empty `history`. Revisions are numbered from 0,
as plone.restapi counts versions (our first revision is `@history/0`).
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
from ..models import Node, Revision, User
from ..registry import info_for
from ..workflow import INITIAL_STATE, STATES, TRANSITIONS
from .components import endpoint_url, expandable
from .errors import APIError, content_error, field_error, json_response
from .fields import deserialize, read_body, refuse_unknown
from .serialize import field_value, item_url, iso, transitions

TRANSITION_KEYS = ("comment", "effective", "expires", "include_children")


def state_title(request: Any, state: str) -> str:
    return request.localizer.translate(STATES[state].title) if state in STATES else state


def transition_title(request: Any, name: str, source: str) -> str:
    t = next((t for t in TRANSITIONS if t.name == name and t.source == source), None)
    return request.localizer.translate(t.title) if t is not None else name


def actors(request: Any, logins: set[str | None]) -> dict[str | None, dict[str, Any] | None]:
    """plone.restapi's actor of a history entry, per login."""
    names = [login for login in logins if login]
    users = {u.login: u for u in request.dbsession.scalars(select(User).where(User.login.in_(names)))} if names else {}
    root = item_url(request, list(request.context.lineage())[-1])
    result: dict[str | None, dict[str, Any] | None] = {None: None}
    for login in names:
        user = users.get(login)
        result[login] = {"@id": f"{root}/@users/{login}", "id": login, "username": login,
                         "fullname": (user.fullname or login) if user else login}
    return result


@expandable("workflow")
def workflow_info(request: Any, node: Node) -> dict[str, Any]:
    """The state, its history (oldest first, from the creation; for those who may see it) and the
    transitions the request may run now."""
    history: list[dict[str, Any]] = []
    if node.parent is not None and request.has_permission("history", node):
        history.append({"action": None, "actor": node.owner or "", "comments": "", "review_state": INITIAL_STATE,
                        "time": iso(node.created), "title": state_title(request, INITIAL_STATE)})
        history += [{"action": e.transition, "actor": e.actor or "", "comments": e.comment,
                     "review_state": e.to_state, "time": iso(e.at), "title": state_title(request, e.to_state)}
                    for e in reversed(content.history(request, node))]
    return {"history": history, "state": {"id": node.state, "title": state_title(request, node.state)},
            "transitions": [{"@id": t["@id"], "id": t["id"], "title": t["title"]} for t in transitions(request, node)],
            "review_state": node.state}


@view_config(context=Node, name="@workflow", request_method="GET", permission="view")
def list_transitions(context: Node, request: Any) -> Response:
    return json_response({"@id": endpoint_url(request, context, "workflow"), **workflow_info(request, context)})


def run(request: Any, node: Node, name: str, comment: str, dates: dict[str, Any], children: bool,
        top: bool = True) -> None:
    """Apply the dates, run the transition, and go on below when asked to. Dates go to the items
    whose type has them (a column has none): for the item itself a missing one is an unknown
    field, unless the dates were sent for the items below it."""
    info = info_for(request.registry, node)
    own = {key: value for key, value in dates.items() if key in info.schema(request, node)}
    if top and not children:
        refuse_unknown(request, dates, own)
    if own:
        content.save(request, node, deserialize(request, info, own, node))
    try:
        content.transition(request, node, name, comment)
    except ContentError:
        target = {t.target for t in TRANSITIONS if t.name == name}
        if top or node.state not in target:
            raise
    if children:
        for child in list(node.children):
            run(request, child, name, comment, dates, children, top=False)


@view_config(context=Node, name="@workflow", request_method="POST", permission="view")
def run_transition(context: Node, request: Any) -> Response:
    if len(request.subpath) != 1:
        raise HTTPNotFound()
    body = read_body(request, required=False)
    refuse_unknown(request, body, TRANSITION_KEYS)
    comment = body.get("comment") or ""
    errors = []
    if not isinstance(comment, str):
        errors.append(field_error(request, "comment", _("Must be text")))
    if not isinstance(body.get("include_children", False), bool):
        errors.append(field_error(request, "include_children", _("Must be true or false")))
    if errors:
        raise APIError(400, _("Some fields have the wrong type"), errors)
    dates = {key: body[key] for key in ("effective", "expires") if key in body}
    savepoint = request.dbsession.begin_nested()  # all or nothing, children included
    try:
        run(request, context, request.subpath[0], comment, dates, body.get("include_children", False))
    except ContentError as e:
        savepoint.rollback()
        raise content_error(request, e) from None
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    event = content.history(request, context)[0]
    return json_response({"action": event.transition, "actor": event.actor or "", "comments": event.comment,
                          "review_state": context.state, "time": iso(event.at),
                          "title": state_title(request, context.state)})


def history_entries(request: Any, node: Node) -> list[dict[str, Any]]:
    url = endpoint_url(request, node, "history")
    revisions = content.revisions(request, node)
    events = content.history(request, node)
    who = actors(request, {r.actor for r in revisions} | {e.actor for e in events})
    may_revert = bool(request.has_permission("edit", node))
    latest = max((r.number for r in revisions), default=0)
    entries = [{
        "@id": f"{url}/{r.number - 1}", "type": "versioning", "version": r.number - 1, "action": r.kind,
        "transition_title": request.localizer.translate(REVISION_KINDS.get(r.kind, r.kind)),
        "actor": who.get(r.actor), "time": iso(r.at), "comments": r.comment,
        "may_revert": may_revert and r.number != latest, "_at": r.at,
    } for r in revisions]
    entries += [{
        "type": "workflow", "action": e.transition,
        "transition_title": transition_title(request, e.transition, e.from_state),
        "review_state": e.to_state, "state_title": state_title(request, e.to_state), "actor": who.get(e.actor),
        "time": iso(e.at), "comments": e.comment, "_at": e.at,
    } for e in events]
    entries.sort(key=lambda entry: entry["_at"], reverse=True)
    for entry in entries:
        del entry["_at"]
    return entries


def find_revision(request: Any, node: Node, version: Any) -> Revision | None:
    """The revision plone.restapi calls `version` (counted from 0)."""
    number = version + 1 if isinstance(version, int) and not isinstance(version, bool) else (
        int(version) + 1 if isinstance(version, str) and version.isdigit() else None)
    return next((r for r in content.revisions(request, node) if r.number == number), None)


def revision_data(request: Any, node: Node, version: str) -> dict[str, Any]:
    """One revision's fields (`@history/<version>`); its files have no links (only current ones do)."""
    revision = find_revision(request, node, version)
    if revision is None:
        raise HTTPNotFound()
    cls = type(node)
    return {"@id": f"{endpoint_url(request, node, 'history')}/{version}", "version": revision.number - 1,
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


@view_config(context=Node, name="@history", request_method="PATCH", permission="history")
def revert(context: Node, request: Any) -> Response:
    """plone.restapi's revert: `{"version": n}` saves that revision's fields as a new one (an edit,
    so a published item edited by someone who may not review waits for review as any edit)."""
    body = read_body(request)
    refuse_unknown(request, body, ("version",))
    revision = find_revision(request, context, body.get("version"))
    if revision is None:
        raise APIError(400, _("Some fields are not valid"), [field_error(request, "version", _("No such version"))])
    try:
        content.restore(request, context, revision)
    except ContentError as e:
        raise content_error(request, e) from None
    message = _("${title} has been reverted to revision ${version}.",
                mapping={"title": context.title, "version": str(body["version"])})
    return json_response({"message": request.localizer.translate(message)})
