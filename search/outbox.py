"""The search outbox: index changes written in the same transaction as the content change.

A row says "node N must be (re)indexed", "document N must go" or "node N and everything below it
must be (re)indexed" (`subtree`: transitions, sharing and moves change who may see, or where is,
everything below). A content change that rolls back takes its rows with it, so the index never
sees it; a crash after commit leaves the rows for the next drain (see search.indexer). Rows name
nodes, not document bodies: the writer builds each document from the database as it is when the
row is applied, and a subtree row is read as the tree is then -- an item added below by a
transaction that committed meanwhile is in it, though the transaction writing the row could not
see that item.
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
SUBTREE = "subtree"


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
    """The node and everything below it, as this transaction sees them (for removals: afterwards
    the nodes are gone, and their ids with them)."""
    dbsession.flush()
    return list(dbsession.scalars(select(Node.id).where(Node.path.startswith(node.path, autoescape=True))))
