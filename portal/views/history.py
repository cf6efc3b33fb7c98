"""History of an item: revisions and workflow transitions, differences between revisions, restore."""
from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.view import view_config
from sqlalchemy import select

from .. import content
from ..diff import diff_revisions
from ..i18n import _
from ..models import Node, Revision
from ..registry import info_for
from . import flash, template


def revision(request: Any, context: Node, number: str | None) -> Revision:
    try:
        num = int(number or "")
    except ValueError:
        raise HTTPNotFound() from None
    rev = request.dbsession.scalar(select(Revision).where(Revision.node_id == context.id, Revision.number == num))
    if rev is None:
        raise HTTPNotFound()
    return rev


@view_config(context=Node, name="history", permission="history", renderer=template("history.pt"))
def history(context: Node, request: Any) -> Any:
    revs = content.revisions(request, context)
    changes = None
    if "a" in request.params and "b" in request.params:
        a, b = revision(request, context, request.params["a"]), revision(request, context, request.params["b"])
        changes = {"a": a, "b": b, "fields": diff_revisions(context.fields, a.data, b.data,
                                                                   info_for(request.registry, context).html_fields)}
    events = content.history(request, context)
    names = content.display_names(request, [r.actor for r in revs] + [e.actor for e in events])
    return {"revisions": revs, "events": events, "changes": changes, "names": names}


@view_config(context=Node, name="restore", permission="edit", request_method="POST")
def restore(context: Node, request: Any) -> Any:
    rev = revision(request, context, request.POST.get("number"))
    outcome = content.restore(request, context, rev)
    flash(request, _("Revision ${n} restored.", mapping={"n": rev.number}) if outcome == "saved" else
          _("Revision ${n} restored as a change that waits for review.", mapping={"n": rev.number}))
    return HTTPFound(request.resource_url(context, "@@history"))
