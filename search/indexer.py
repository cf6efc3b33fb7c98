"""The one writer: applies the outbox to the index, rebuilds the index, and checks it against the database.

Why every drain is serial and reads only after it holds the drain lock (issue 8). A document must be
built from a state of the database at least as new as the outbox rows it answers, and the index must
never receive a document built from an older state after one built from a newer state. Drains used
to read their rows and nodes first and wait for the index's write lock afterwards, so two drains
could write in the opposite order of their reads: the document read before a `submit` committed
landed after the one read after it, both drains deleted their rows, and the index kept `private`
for a `pending` item -- a fifth of the items when six editors create and submit at once, on SQLite
and PostgreSQL alike, with an empty outbox, so only a reindex repaired it.

So every writer of this module -- the after-commit drain of each web thread, `portal indexer`, the
drain at start-up, `reindex`, `check-index --repair` -- first takes the index's drain lock
(:class:`DrainLock`: a thread lock for this process and a lock file beside the index for all
processes), and only then opens a new database transaction, takes its rows and reads the nodes:

* a row that a drain takes was committed before the drain's snapshot began, so the document built
  from that snapshot is at least as new as the change that wrote the row;
* a change committed after that snapshot began wrote rows that this drain did not take; they stay
  in the outbox, and a later drain, whose snapshot begins after this drain let go of the lock,
  writes the node again from a newer state;
* hence, for every node, the last document written is built from a state that includes the last
  change to that node whose rows are gone -- and a change whose rows are still there is not lost.

We chose this over versioning the outbox rows (remembering per document the newest row it answers
and skipping older ones) because that needs a compare-and-set inside the index engine, where a lock
beside it keeps `SearchBackend` as it is; a drain holds the lock for milliseconds.

Rows name nodes and say nothing about their documents: whether a node is indexed or removed is
decided by the database when the row is applied (a node that is gone or not searchable is
unindexed), so applying a row twice, or an older row after a newer one, is harmless. A `subtree`
row (workflow transitions, sharing and moves) stands for the node and everything below it *as the
tree is when it is applied*: an item added to a folder by a transaction that committed while the
folder was being retracted or shared is in the subtree then, though the retracting transaction
could not see it. Rows are deleted by the ids taken, after the index is written, in a transaction
of their own: a crash in between applies them again, and on SQLite a transaction that has read
cannot begin to write once another one has committed.

`apply_outbox` works inside a caller's session, without the lock (tests, one thread).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from pyramid.registry import Registry
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from portal.locks import LockBusy, ProcessLock, process_lock
from portal.models import LocalRole, Node
from portal.pagecache.tags import INDEX_TAG, bump
from portal.registry import searchable_types

from .backend import DOC_FIELDS, SearchBackend, prepare_document
from .documents import document, indexable
from .outbox import SUBTREE, SearchOutbox
from .settings import search_settings

log = logging.getLogger(__name__)
BATCH = 500
#: Seconds a writer waits for the drain lock. A drain holds it for milliseconds, a rebuild or a
#: check for minutes: a drain that gives up leaves its rows in the outbox for the next one.
DRAIN_TIMEOUT = 10.0
LOCK_NAME = "DRAINLOCK"

Bar = Callable[[str, "int | None"], Any]  # (description, total) -> a tqdm-like context manager


class OutboxBusy(LockBusy):
    """Another writer holds the drain lock (a rebuild, a check); the outbox keeps the work."""


class DrainLock(ProcessLock):
    """One writer of an index at a time (portal.locks): raises :class:`OutboxBusy` after the
    timeout (`DRAIN_TIMEOUT` by default)."""

    busy = OutboxBusy


def drain_lock(registry: Registry, backend: SearchBackend) -> DrainLock:
    """The drain lock of the index `backend` writes to (beside it: every process sharing the index
    shares its directory), one object per process so that its threads share the thread lock."""
    where = Path(getattr(backend, "path", None) or search_settings(registry).index_dir)
    lock = process_lock(where / LOCK_NAME, DrainLock, what=f"the search index {where.resolve()}",
                        default_timeout=DRAIN_TIMEOUT)
    assert isinstance(lock, DrainLock)
    return lock


# --- applying rows --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    id: int
    node_id: int
    op: str


def take(dbsession: Session, batch: int | None = BATCH) -> list[Row]:
    """The oldest `batch` outbox rows (None: all of them)."""
    return [Row(*r) for r in dbsession.execute(select(SearchOutbox.id, SearchOutbox.node_id, SearchOutbox.op)
                                               .order_by(SearchOutbox.id).limit(batch))]


def named_nodes(dbsession: Session, rows: Iterable[Row]) -> list[int]:
    """The ids of the nodes the rows name, a subtree row's as the tree is now (see the module docstring)."""
    rows = list(rows)
    ids = dict.fromkeys(r.node_id for r in rows)
    roots = sorted(set(dbsession.scalars(select(Node.path).where(
        Node.id.in_({r.node_id for r in rows if r.op == SUBTREE})))))
    outermost: list[str] = []
    for path in roots:  # sorted: a path comes after every path it lies below
        if not any(path.startswith(p) for p in outermost):
            outermost.append(path)
    for start in range(0, len(outermost), 50):
        below = or_(*(Node.path.startswith(p, autoescape=True) for p in outermost[start:start + 50]))
        ids.update(dict.fromkeys(dbsession.scalars(select(Node.id).where(below).order_by(Node.id))))
    return list(ids)


def apply_nodes(registry: Registry, dbsession: Session, backend: SearchBackend, node_ids: Sequence[int],
                release: bool = False) -> None:
    """Index each node as the session sees it now, or remove its document if it is gone or not searchable.

    `release`: forget the loaded nodes after each batch (a drain's own session; a subtree may be a
    whole unit), never in a caller's session, whose objects the caller still holds."""
    for start in range(0, len(node_ids), BATCH):
        chunk = node_ids[start:start + BATCH]
        nodes = {n.id: n for n in dbsession.scalars(select(Node).where(Node.id.in_(chunk)))}
        docs = [document(registry, dbsession, nodes[n]) for n in chunk if n in nodes and indexable(registry, nodes[n])]
        gone = [str(n) for n in chunk if n not in nodes or not indexable(registry, nodes[n])]
        if gone:
            backend.unindex(gone)
        if docs:
            backend.index(docs)
        if release:
            dbsession.expunge_all()


def delete_rows(dbsession: Session, ids: Sequence[int]) -> None:
    """By the ids taken: a row with a lower id may commit after we read (PostgreSQL sequences)."""
    for start in range(0, len(ids), 1000):
        dbsession.execute(delete(SearchOutbox).where(SearchOutbox.id.in_(ids[start:start + 1000])))


def apply_outbox(registry: Registry, dbsession: Session, backend: SearchBackend, batch: int = BATCH) -> int:
    """Apply the oldest `batch` outbox rows in the caller's session and delete them; returns how many
    rows were applied. No lock: for one thread that owns the session (tests); writers use `drain`."""
    rows = take(dbsession, batch)
    if rows:
        apply_nodes(registry, dbsession, backend, named_nodes(dbsession, rows))
        delete_rows(dbsession, [r.id for r in rows])
        bump(dbsession, {INDEX_TAG})
        dbsession.flush()
    return len(rows)


def drain(registry: Registry, session_factory: Callable[[], Session], backend: SearchBackend,
          timeout: float | None = None) -> int:
    """Apply the whole outbox under the drain lock, a batch per transaction; returns how many rows.

    Raises :class:`OutboxBusy` when the lock stays taken for `timeout` seconds."""
    total = 0
    with drain_lock(registry, backend).hold(timeout):
        while done := _drain_batch(registry, session_factory, backend):
            total += done
    return total


def _drain_batch(registry: Registry, session_factory: Callable[[], Session], backend: SearchBackend) -> int:
    """Under the lock: take rows and read the nodes in a new transaction, write the index, delete the rows."""
    with session_factory() as session:
        with session.begin():
            rows = take(session)
            if rows:
                apply_nodes(registry, session, backend, named_nodes(session, rows), release=True)
        if rows:
            with session.begin():
                delete_rows(session, [r.id for r in rows])
                bump(session, {INDEX_TAG})
    return len(rows)


def pending(dbsession: Session) -> int:
    return dbsession.scalar(select(func.count(SearchOutbox.id))) or 0


# --- rebuilding -----------------------------------------------------------------------------------

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


def reindex(registry: Registry, session_factory: Callable[[], Session], backend: SearchBackend,
            progress: Callable[[int], Any] | None = None) -> int:
    """Rebuild the whole index from a snapshot taken under the drain lock, then swap it in.

    The lock keeps drains out until the swap: a drain writing into the old generation after the
    build's snapshot, and deleting its rows, would lose its change with the old generation. The
    rows the build covered are deleted afterwards in a transaction of their own."""
    with drain_lock(registry, backend).hold(), session_factory() as session:
        with session.begin():
            done = list(session.scalars(select(SearchOutbox.id)))
            count = backend.rebuild(all_documents(registry, session), progress=progress)
        with session.begin():
            delete_rows(session, done)
            bump(session, {INDEX_TAG})
    return count


# --- comparing the index with the database ------------------------------------------------------

COMPARED: tuple[str, ...] = tuple(name for name in DOC_FIELDS if name != "id")


def _normal(name: str, value: Any) -> Any:
    """One field as both sides keep it: no value, an empty text and an empty list are the same."""
    if value is None or value == "" or value == []:
        return None
    if name == "allowed":
        return tuple(sorted(set(value)))
    if isinstance(value, list):
        return tuple(value)
    return value


def _fingerprint(doc: Mapping[str, Any]) -> bytes:
    """8 bytes per compared field: a large index is compared without holding its documents."""
    return b"".join(hashlib.blake2b(repr(_normal(n, doc.get(n))).encode("utf-8"), digest_size=8).digest()
                    for n in COMPARED)


@dataclass
class IndexReport:
    """What `check` found: each list holds (id, path, what differs)."""

    missing: list[tuple[str, str, str]] = field(default_factory=list)
    extra: list[tuple[str, str, str]] = field(default_factory=list)
    stale: list[tuple[str, str, str]] = field(default_factory=list)
    #: outbox rows not applied yet, and the nodes they name (not compared: a drain will apply them)
    waiting_rows: int = 0
    waiting_nodes: int = 0
    oldest_waiting: dt.datetime | None = None
    in_database: int = 0
    in_index: int = 0

    @property
    def differences(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.stale)

    def lines(self) -> Iterator[str]:
        for kind, found in (("missing", self.missing), ("extra", self.extra), ("stale", self.stale)):
            for doc_id, path, what in found:
                yield f"{kind}\t{doc_id}\t{path}\t{what}"


class _NoBar:
    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int = 1) -> None:
        return None


def _describe(name: str, indexed: Any, database: Any) -> str:
    """A field that differs; state and allowed with their values, as they decide who finds what."""
    if name == "state":
        return f"state {indexed} -> {database}"
    if name == "allowed":
        indexed, database = set(indexed or ()), set(database or ())
        return "allowed " + " ".join([f"-{p}" for p in sorted(indexed - database)] +
                                     [f"+{p}" for p in sorted(database - indexed)])
    return name


def check(registry: Registry, session_factory: Callable[[], Session], backend: SearchBackend,
          bar: Bar | None = None) -> IndexReport:
    """Compare every document in the index with what the database says now.

    Runs under the drain lock, from one snapshot taken after it, so nothing is written to the index
    meanwhile and every difference is real; the nodes that outbox rows name are left out (their
    rows are a drain's work, not a lost update) and counted. Memory: 8 bytes a field per indexed
    document, plus the state and principals (shared between documents)."""
    bar = bar or (lambda desc, total: _NoBar())
    report = IndexReport()
    with drain_lock(registry, backend).hold(), session_factory() as session, session.begin():
        _repeatable_read(session)
        rows = take(session, batch=None)
        waiting = {str(n) for n in named_nodes(session, rows)}
        report.waiting_rows, report.waiting_nodes = len(rows), len(waiting)
        report.oldest_waiting = session.scalar(select(func.min(SearchOutbox.created))) if rows else None
        shared: dict[Any, Any] = {}
        have: dict[str, tuple[bytes, str, Any, Any]] = {}
        with bar("index", None) as progress:
            for doc in backend.documents():
                allowed = _normal("allowed", doc.get("allowed"))
                have[doc["id"]] = (_fingerprint(doc), str(doc.get("path") or ""),
                                   shared.setdefault(doc.get("state"), doc.get("state")),
                                   shared.setdefault(allowed, allowed))
                progress.update(1)
        report.in_index = len(have)
        with bar("database", count_documents(registry, session)) as progress:
            for doc in all_documents(registry, session):
                progress.update(1)
                prepared = prepare_document(doc)
                doc_id = prepared["id"]
                report.in_database += 1
                indexed = have.pop(doc_id, None)
                if doc_id in waiting:
                    continue
                if indexed is None:
                    report.missing.append((doc_id, prepared["path"], f"state {prepared.get('state')}"))
                    continue
                fingerprint, _path, state, allowed = indexed
                mine = _fingerprint(prepared)
                if mine != fingerprint:
                    names = [n for i, n in enumerate(COMPARED) if mine[i * 8:i * 8 + 8] != fingerprint[i * 8:i * 8 + 8]]
                    was = {"state": state, "allowed": allowed}
                    report.stale.append((doc_id, prepared["path"], "; ".join(
                        _describe(n, was.get(n), prepared.get(n)) for n in names)))
        report.extra = [(doc_id, path, "not in the database, or not searchable")
                        for doc_id, (_f, path, _s, _a) in sorted(have.items(), key=lambda kv: _id_key(kv[0]))
                        if doc_id not in waiting]
    for found in (report.missing, report.stale):
        found.sort(key=lambda item: _id_key(item[0]))
    return report


def _id_key(doc_id: str) -> tuple[int, Any]:
    return (0, int(doc_id)) if doc_id.isdigit() else (1, doc_id)


def _repeatable_read(session: Session) -> None:
    """One snapshot for the whole comparison on PostgreSQL (SQLite's transaction is one already)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def repair(registry: Registry, session_factory: Callable[[], Session], backend: SearchBackend,
           report: IndexReport) -> int:
    """Write every node the report names as the database has it now -- indexed, or removed if it is
    gone or not searchable -- under the drain lock and from a snapshot taken after it, as a drain
    does; returns how many documents were written or removed."""
    named = [doc_id for found in (report.missing, report.extra, report.stale) for doc_id, _p, _w in found]
    ids = sorted({int(i) for i in named if i.isdigit()})
    strays = [i for i in named if not i.isdigit()]  # no node could have written these
    with drain_lock(registry, backend).hold(), session_factory() as session:
        with session.begin():
            apply_nodes(registry, session, backend, ids, release=True)
        if strays:
            backend.unindex(strays)
        with session.begin():
            bump(session, {INDEX_TAG})
    return len(ids) + len(strays)
