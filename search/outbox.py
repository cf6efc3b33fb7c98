"""The search outbox: index changes written in the same transaction as the content change.

A row says "node N must be (re)indexed" or "document N must go". A content change that rolls
back takes its rows with it, so the index never sees it; a crash after commit leaves the rows
for the next drain (see search.indexer). Rows name nodes, not document bodies: the writer
builds each document from the database as it is when the row is applied.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

from sqlalchemy import DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from portal.models import Base, Node
from portal.models.node import utcnow

INDEX = "index"
UNINDEX = "unindex"


class SearchOutbox(Base):
    __tablename__ = "search_outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(Integer, index=True)  # no foreign key: deleted nodes stay named
    op: Mapped[str] = mapped_column(String(10))
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


def enqueue(dbsession: Any, node_ids: Iterable[int], op: str = INDEX) -> None:
    for node_id in dict.fromkeys(node_ids):
        dbsession.add(SearchOutbox(node_id=node_id, op=op))


def subtree_ids(dbsession: Any, node: Node) -> list[int]:
    """The node and everything below it (after a move, by its new path)."""
    dbsession.flush()
    return list(dbsession.scalars(select(Node.id).where(Node.path.like(f"{node.path}%"))))
