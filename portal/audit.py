"""The audit log of security events: who did what, when, from where, to what.

Logins and their failures, logouts, second-factor changes, ended sessions, accounts made, removed,
disabled and enabled, password changes, sharing (local roles) and publication and retraction.
`record` is the one way in; the views and actions that decide these things call it, and the
subscribers below turn the core's events into entries (portal.events: WorkflowTransitioned,
LocalRolesChanged), so the search index and the audit log hear of the same changes.

Entries are written in the request's transaction: a change that is rolled back leaves no entry
claiming it happened. Refusals that must be kept (a wrong password) are answered with a response,
not an exception, so their transaction commits. The table is append-only (portal.models.audit);
managers read it at `/@@audit` (portal.views.audit), filtered by who, what and when.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from . import events
from .i18n import _
from .models import LocalRole, Node
from .models.audit import AuditEntry

ACTIONS = {
    "login": _("Logged in"),
    "login.failed": _("Login failed"),
    "logout": _("Logged out"),
    "token.renewed": _("API token renewed"),
    "second_factor.enrolled": _("Second factor set up"),
    "second_factor.removed": _("Second factor removed"),
    "second_factor.reset": _("Second factor reset by a manager"),
    "recovery_codes.renewed": _("New recovery codes"),
    "session.ended": _("Session ended"),
    "sessions.ended": _("All sessions ended"),
    "password.changed": _("Password changed"),
    "user.created": _("Account created"),
    "user.removed": _("Account removed"),
    "user.disabled": _("Account disabled"),
    "user.enabled": _("Account enabled"),
    "sharing.changed": _("Sharing changed"),
    "content.published": _("Published"),
    "content.retracted": _("Retracted"),
}


def _actor(request: Any) -> str:
    user = request.identity if request is not None else None
    return user.login if user is not None else ""


def record(request: Any, action: str, target: str = "", details: dict[str, Any] | None = None, *,
           actor: str | None = None, dbsession: Any = None) -> AuditEntry:
    """Append one entry. `actor` defaults to the request's user ("" for the system: commands,
    set-up); `dbsession` to the request's, for callers that have no request."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    dbsession = dbsession if dbsession is not None else request.dbsession
    entry = AuditEntry(action=action, target=target[:500], details=details or {},
                       actor=(actor if actor is not None else _actor(request))[:100],
                       address=((request.client_addr or "") if request is not None else "")[:64])
    dbsession.add(entry)
    return entry


def entries(dbsession: Any, *, actor: str = "", action: str = "", since: dt.datetime | None = None,
            until: dt.datetime | None = None, offset: int = 0, limit: int = 50) -> tuple[list[AuditEntry], int]:
    """Entries matching the filters, newest first, one page of them and how many match in all.
    `actor` matches the login exactly; `since` and `until` are naive UTC, `until` exclusive."""
    where = []
    if actor:
        where.append(AuditEntry.actor == actor)
    if action:
        where.append(AuditEntry.action == action)
    if since is not None:
        where.append(AuditEntry.at >= since)
    if until is not None:
        where.append(AuditEntry.at < until)
    total = dbsession.scalar(select(func.count(AuditEntry.id)).where(*where)) or 0
    rows = dbsession.scalars(select(AuditEntry).where(*where).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                             .offset(offset).limit(limit)).all()
    return list(rows), total


# -- the core's events -----------------------------------------------------------------------

def on_transition(event: events.WorkflowTransitioned) -> None:
    """Publication (and approving a published item's change) and retraction."""
    if event.request is None:
        return
    if event.transition == "publish":
        action = "content.published"
    elif event.from_state == "published" and event.to_state != "published":
        action = "content.retracted"
    else:
        return
    record(event.request, action, event.node.path, {
        "title": event.node.title, "transition": event.transition, "from": event.from_state,
        "to": event.to_state})


def on_sharing(event: events.LocalRolesChanged) -> None:
    """The node's local roles as they are after the change, and its inherit switch."""
    if event.request is None:
        return
    node: Node = event.node
    roles: dict[str, list[str]] = {}
    for principal, role in event.request.dbsession.execute(
            select(LocalRole.principal, LocalRole.role).where(LocalRole.node_id == node.id)
            .order_by(LocalRole.principal, LocalRole.role)):
        roles.setdefault(principal, []).append(role)
    record(event.request, "sharing.changed", node.path, {
        "title": node.title, "roles": roles, "inherit": bool(node.inherit_roles)})


def includeme(config: Any) -> None:
    config.add_subscriber(on_transition, events.WorkflowTransitioned)
    config.add_subscriber(on_sharing, events.LocalRolesChanged)
