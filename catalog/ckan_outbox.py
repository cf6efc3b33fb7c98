"""The CKAN outbox and what the portal knows of each dataset's CKAN package.

A row of `ckan_outbox` says "dataset N must be brought up to date in CKAN". It is written by the
content events in the same transaction as the change (a rolled-back request sends nothing) and
names the dataset, not what to send: the sender (catalog.ckan_sender) reads the dataset as it is
when the row is applied and decides from that alone -- public now: create or update the package;
not public, or gone: delete it. So applying a row twice, or an old row after a new one, is
harmless, and drafts, pending items and pending changes (kept in `Node.draft`) never leave.

`ckan_packages` keeps, per dataset, the CKAN id and name (made once, so a renamed or moved dataset
keeps its package), the CKAN ids of its resources, a hash of what was last sent (a row whose
dataset sends the same again makes no call), and the outcome: synced, error (a validation error
CKAN gave, not retried until the dataset changes or `ckan-sync --retry-failed`) or withdrawn.
Neither table has a foreign key to `nodes`: a deleted dataset's row must still find its package.
Deleting a dataset moves its record to a negative key (`detach`), as SQLite reuses node ids.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

from sqlalchemy import JSON, DateTime, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column

from portal import events
from portal.models import Base, Node
from portal.models.node import utcnow

SYNCED, ERROR, WITHDRAWN = "synced", "error", "withdrawn"


class CkanOutbox(Base):
    __tablename__ = "ckan_outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(Integer, index=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # CKAN unreachable: tried this many times, not again before `not_before` (exponential backoff)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[dt.datetime | None] = mapped_column(DateTime, index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")


class CkanPackage(Base):
    __tablename__ = "ckan_packages"
    node_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ckan_id: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # portal resource id (as text) -> CKAN resource id
    resources: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    sent_hash: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(10), default=SYNCED)
    error: Mapped[str] = mapped_column(Text, default="")
    synced_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


def enqueue(dbsession: Any, node_ids: Iterable[int]) -> None:
    for node_id in dict.fromkeys(node_ids):
        dbsession.add(CkanOutbox(node_id=node_id))


def datasets_in(dbsession: Any, node: Node) -> list[int]:
    """The datasets that a change of `node` concerns: itself, the dataset it is a resource of, or
    every dataset below it (a unit or folder retracted, moved or deleted), as this transaction
    sees them."""
    from .dataset import Dataset

    if isinstance(node, Dataset):
        return [node.id]
    if isinstance(node.parent, Dataset):
        return [node.parent.id]
    if not node.folderish:
        return []
    dbsession.flush()
    return list(dbsession.scalars(select(Dataset.id).where(Dataset.path.startswith(node.path + "/", autoescape=True))))


def pending_ids(dbsession: Any, node_ids: Iterable[int]) -> set[int]:
    ids = list(node_ids)
    if not ids:
        return set()
    return set(dbsession.scalars(select(CkanOutbox.node_id).where(CkanOutbox.node_id.in_(ids))))


def detached_key(dbsession: Any, node_id: int) -> int:
    """A key no node can have (negative), for the record of a deleted dataset: -id, or one below
    every key in use when an earlier holder of the same id was deleted too."""
    if dbsession.get(CkanPackage, -node_id) is None:
        return -node_id
    return min(dbsession.scalar(select(func.min(CkanPackage.node_id))) or 0, 0) - 1


def detach(dbsession: Any, node_ids: Iterable[int]) -> list[int]:
    """The datasets being deleted: their records move to detached keys, which the rows queued name.

    SQLite gives a new node the highest id again once its holder is deleted, and a record keyed by
    the old id would hand the deleted dataset's package (name, CKAN id, state) to the new node. The
    sender finds a detached record's node gone and deletes its package."""
    keys = []
    for node_id in node_ids:
        record = dbsession.get(CkanPackage, node_id)
        if record is not None:
            record.node_id = node_id = detached_key(dbsession, node_id)
            dbsession.flush()
        keys.append(node_id)
    return keys


def on_change(event: events.ContentEvent) -> None:
    from .settings import catalog_settings

    request = event.request
    if request is None or not catalog_settings(request.registry).republishing:
        return  # republishing off: nothing is queued
    from .dataset import Dataset

    ids = datasets_in(request.dbsession, event.node)
    if isinstance(event, events.ObjectRemoved) and not isinstance(event.node.parent, Dataset):
        ids = detach(request.dbsession, ids)  # the datasets themselves go, not a resource of one
    if ids:
        enqueue(request.dbsession, ids)
        from .ckan_sender import schedule_send
        schedule_send(request)


def includeme(config: Any) -> None:
    for event in (events.ObjectAdded, events.ObjectModified, events.WorkflowTransitioned, events.ObjectMoved,
                  events.ObjectRemoved):
        config.add_subscriber(on_change, event)


def status(request: Any, dataset: Node) -> dict[str, Any]:
    """The dataset's `"ckan"` JSON: state, name and url for everyone; the error text only for
    those who may edit it.

    off: republishing is off, or the dataset was never sent and is not waiting to be; pending: a
    change waits in the outbox; synced, error, withdrawn: the outcome of the last send."""
    from .settings import catalog_settings

    settings = catalog_settings(request.registry)
    record = request.dbsession.get(CkanPackage, dataset.id)
    if not settings.republishing:
        state = "off"
    elif pending_ids(request.dbsession, [dataset.id]):
        state = "pending"
    else:
        state = record.state if record is not None and record.state else "off"
    out: dict[str, Any] = {"state": state, "id": None, "name": None, "url": None, "error": None, "synced_at": None}
    if record is not None and settings.republishing:
        out.update(id=record.ckan_id, name=record.name,
                   url=f"{settings.ckan_url}/dataset/{record.name}" if record.ckan_id else None,
                   synced_at=record.synced_at.replace(tzinfo=dt.timezone.utc).isoformat() if record.synced_at else None)
        if record.error and request.has_permission("edit", dataset):
            out["error"] = record.error
    return out
