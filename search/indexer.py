"""The one writer: applies the outbox to the index, and rebuilds the index from the database.

`apply_outbox` works inside a caller's session, so it runs the same in a request's after-commit
hook (development), in `portal indexer` (production: its own process) and in tests. Applying a
row twice is harmless (index replaces by id), so two drains racing never corrupt anything; the
backend's write lock keeps one writer at a time.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any, Callable, Iterator

from sqlalchemy import delete, func, select
from pyramid.registry import Registry
from sqlalchemy.orm import Session

from portal.models import LocalRole, Node
from portal.registry import searchable_types

from .backend import SearchBackend
from .documents import document, indexable
from .outbox import UNINDEX, SearchOutbox

log = logging.getLogger(__name__)
BATCH = 500


def apply_outbox(registry: Registry, dbsession: Session, backend: SearchBackend, batch: int = BATCH) -> int:
    """Apply the oldest `batch` outbox rows and delete them; returns how many rows were applied."""
    rows = dbsession.execute(select(SearchOutbox.id, SearchOutbox.node_id, SearchOutbox.op)
                             .order_by(SearchOutbox.id).limit(batch)).all()
    if not rows:
        return 0
    last_op: dict[int, str] = {}
    for _id, node_id, op in rows:
        last_op[node_id] = op
    wanted = [n for n, op in last_op.items() if op != UNINDEX]
    nodes = {n.id: n for n in dbsession.scalars(select(Node).where(Node.id.in_(wanted)))} if wanted else {}
    docs = [document(registry, dbsession, nodes[n]) for n in wanted if n in nodes and indexable(registry, nodes[n])]
    gone = [str(n) for n in last_op if n not in nodes or not indexable(registry, nodes[n])]
    if gone:
        backend.unindex(gone)
    if docs:
        backend.index(docs)
    # by the ids read: a row with a lower id may commit after we read (PostgreSQL sequences)
    dbsession.execute(delete(SearchOutbox).where(SearchOutbox.id.in_([r[0] for r in rows])))
    dbsession.flush()
    return len(rows)


def drain(registry: Registry, session_factory: Callable[[], Session], backend: SearchBackend) -> int:
    """Apply the whole outbox, committing after each batch (so a crash loses nothing)."""
    total = 0
    while True:
        with session_factory() as session, session.begin():
            done = apply_outbox(registry, session, backend)
        if not done:
            return total
        total += done


def pending(dbsession: Session) -> int:
    return dbsession.scalar(select(func.count(SearchOutbox.id))) or 0


def all_documents(registry: Registry, dbsession: Session) -> Iterator[dict[str, Any]]:
    """Every indexable node's document, for a rebuild.

    Why the prefetching: a document needs the node's parents and the local roles on them;
    asked per node that is a few queries and lazy loads each (most of a rebuild's database
    time), while every parent node and every local role of a portal fits in memory at once.
    """
    parents = {n.id: n for n in dbsession.scalars(
        select(Node).where(Node.id.in_(select(Node.parent_id).where(Node.parent_id.is_not(None)))))}
    grants: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for node_id, principal, role in dbsession.execute(select(LocalRole.node_id, LocalRole.principal, LocalRole.role)):
        grants[node_id].append((principal, role))
    query = select(Node).where(Node.type.in_(searchable_types(registry))).order_by(Node.id)
    for node in dbsession.scalars(query.execution_options(yield_per=500)):
        if indexable(registry, node):
            lineage = [node]
            while lineage[-1].parent_id is not None and lineage[-1].parent_id in parents:
                lineage.append(parents[lineage[-1].parent_id])
            yield document(registry, dbsession, node, lineage, grants)


def count_documents(registry: Registry, dbsession: Session) -> int:
    return dbsession.scalar(select(func.count(Node.id)).where(Node.type.in_(searchable_types(registry))))


def rebuild(registry: Registry, dbsession: Session, backend: SearchBackend,
            progress: Callable[[int], Any] | None = None) -> int:
    """Rebuild beside the live index and swap; outbox rows older than the build are done with."""
    done = list(dbsession.scalars(select(SearchOutbox.id)))
    count = backend.rebuild(all_documents(registry, dbsession), progress=progress)
    for start in range(0, len(done), 1000):
        dbsession.execute(delete(SearchOutbox).where(SearchOutbox.id.in_(done[start:start + 1000])))
    return count
