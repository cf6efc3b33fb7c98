"""The sharing screen: can view / can add / can edit / can review, the inherit switch, and the items
below whose owners no longer hold a role there (ownership gives them nothing any more)."""
from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from .. import sharing
from ..i18n import _
from ..models import Node
from . import flash, template


@view_config(context=Node, name="sharing", permission="manage", renderer=template("sharing.pt"))
def sharing_view(context: Node, request: Any) -> Any:
    if request.method == "POST" and "save" in request.POST:
        shown = request.POST.getall("principal")
        changes = {p: {role: f"{p}|{role}" in request.POST.getall("grant") for role in sharing.ROLE_IDS}
                   for p in shown}
        try:
            sharing.set_roles(request, context, changes, inherit="inherit" in request.POST)
        except ValueError:
            request.tm.doom()
            flash(request, _("Unknown user or group."))
        else:
            flash(request, _("Sharing saved."))
        return HTTPFound(request.resource_url(context, "@@sharing"))
    query = request.params.get("search", "").strip()
    found = sharing.search_principals(request, query) if query else []
    orphans, orphans_total = sharing.orphaned(request, context)
    return {"entries": sharing.entries(request, context, extra=found), "roles": sharing.SHARING_ROLES,
            "search": query, "orphans": orphans, "orphans_total": orphans_total}
