"""The managers' screen of the audit log (`/@@audit`): filtered by who, what and when, newest
first, 50 a page. Read-only: the portal has no way to change or delete an entry
(portal.models.audit)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from pyramid.view import view_config
from sqlalchemy import select

from .. import audit
from ..i18n import _
from ..models import Portal
from ..models.audit import AuditEntry
from ..schemas import LOCAL_TZ
from . import template

PAGE_SIZE = 50


def local_day(value: str) -> dt.datetime | None:
    """The start of a day given as YYYY-MM-DD in Beijing time, as naive UTC; None if it is not one."""
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        return None
    start = dt.datetime.combine(day, dt.time(), tzinfo=LOCAL_TZ)
    return start.astimezone(dt.timezone.utc).replace(tzinfo=None)


@view_config(context=Portal, name="audit", permission="manage", request_method=("GET", "HEAD"),
             renderer=template("audit.pt"))
def audit_view(context: Portal, request: Any) -> dict[str, Any]:
    params = request.GET
    actor = params.get("actor", "").strip()[:100]
    action = params.get("action", "")
    action = action if action in audit.ACTIONS else ""
    since_text, until_text = params.get("since", "").strip()[:10], params.get("until", "").strip()[:10]
    since, until = local_day(since_text) if since_text else None, local_day(until_text) if until_text else None
    errors = []
    if since_text and since is None or until_text and until is None:
        errors.append(_("Give dates as YYYY-MM-DD."))
    if until is not None:
        until += dt.timedelta(days=1)  # the whole of that day
    try:
        page = max(1, int(params.get("page", "1")))
    except ValueError:
        page = 1
    rows, total = audit.entries(request.dbsession, actor=actor, action=action, since=since, until=until,
                                offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    actors = request.dbsession.scalars(select(AuditEntry.actor).distinct().order_by(AuditEntry.actor)).all()
    query = {k: v for k, v in (("actor", actor), ("action", action), ("since", since_text), ("until", until_text)) if v}
    return {"entries": rows, "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)),
            "actor": actor, "action": action, "since": since_text, "until": until_text, "errors": errors,
            "actions": audit.ACTIONS, "actors": [a for a in actors if a], "query": query}
