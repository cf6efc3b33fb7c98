"""The audit log: one append-only table of security events (portal.audit writes it).

Append-only three times over: the portal has no code path that changes or removes an entry; the
ORM refuses to flush a change or a deletion of one, and refuses bulk UPDATE/DELETE statements on
the table; and the migration adds database triggers that refuse UPDATE and DELETE from any client,
so even a bug elsewhere in the portal cannot rewrite history. Who acted is kept as the login text,
not a foreign key, so removing an account keeps its entries.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, String, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from .meta import Base
from .node import utcnow


class AuditLogIsAppendOnly(Exception):
    """Something tried to change or delete an audit entry."""


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100), default="", index=True)  # login; "" = the system
    action: Mapped[str] = mapped_column(String(50), index=True)
    target: Mapped[str] = mapped_column(String(500), default="")  # "user:wang", a node's path
    address: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _refuse_change(_mapper: Any, _connection: Any, target: AuditEntry) -> None:
    raise AuditLogIsAppendOnly(f"audit entry {target.id} cannot be changed or deleted")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_change(state: Any) -> None:
    if (state.is_update or state.is_delete) and any(
            m.class_ is AuditEntry for m in state.all_mappers):
        raise AuditLogIsAppendOnly("the audit log cannot be changed or deleted")
