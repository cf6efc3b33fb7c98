"""The Whoosh implementation of :class:`search.backend.SearchBackend`.

Everything Whoosh-specific lives here.  On-disk layout::

    <path>/CURRENT          name of the live generation directory (one line)
    <path>/WRITELOCK        whoosh FileLock: one writer (thread or process)
    <path>/gen-<ns>-<rand>/ a complete Whoosh index

Why generations instead of writing in place: :meth:`rebuild` writes a whole
new index in a sibling directory while searches continue on the live one,
then swaps ``CURRENT`` with an atomic ``os.replace``.  Searchers opened on
the old generation keep their (memory-mapped / open) files after the old
directory is deleted (POSIX semantics); the next query of each thread
notices the new ``CURRENT`` and opens the new generation.

Why custom fields instead of a Whoosh analyzer: the bigram stream of
:mod:`search.analysis` is produced in one regex pass and handed to Whoosh as
ready (term, frequency) postings, skipping per-token objects; bulk indexing
is dominated by that path.  No positions are stored: exact (phrase) matching
checks each candidate's canonical text, kept in a column (``canon``).

Queries are evaluated by :mod:`search.whoosh_reader` with document sets
(compressed bitmaps) built from Whoosh's postings, not with Whoosh's
matchers and collectors (the reason is there).  The effective/expires window
applies to what is visible through ``system.Everyone`` only: a visitor who
may view a document through another principal (its editor, a reviewer)
finds it whatever its dates, as the portal's security policy lets them view
it.

whoosh3 3.54 defects worked around (each has a regression test): bulk
indexing pickles and merges every posting on its own, looks up field lengths
per posting, and ``BufferFile`` copies the whole mmapped segment -- see
:mod:`search.whoosh_speedups`; ``Searcher.refresh()`` reuses segment readers
with stale deletions (hence :meth:`Reader.refresh` reopens).  The
matcher-level defects met before (``AndNot`` letting its first document
through, the top-N collector miscounting totals, ``FilterCollector``
ignoring an empty allow-set, slow ``Phrase``) no longer apply: the query
path does not use those classes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from pyroaring import BitMap
from whoosh import columns, fields, formats, index
from whoosh.filedb.filestore import FileStorage

from search.analysis import canonical, number_key, token_counts
from search.backend import (
    EVERYONE,
    FACET_FIELDS,
    FILTER_FIELDS,
    SEARCHABLE_FIELDS,
    Hit,
    Progress,
    SearchBackend,
    SearchQuery,
    SearchResults,
    now_local,
    prepare_document,
    to_local_naive,
)
from search.highlight import highlight_whole, snippet
from search.query import MSG_EMPTY, ParsedQuery, parse
from search.whoosh_reader import CONTENT_COLUMN, TITLE_COLUMN, Reader, Segment, SegmentCache
from search.whoosh_speedups import codec, freq_bytes

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
LOCK_NAME = "WRITELOCK"
#: What a generation holds (schema, columns, codec); written into each as ``FORMAT``.
#: A generation of another format cannot be read by this code: it is replaced by an
#: empty one and ``REBUILD_NEEDED`` marks the index until a rebuild fills it again.
FORMAT = "2"
FORMAT_FILE = "FORMAT"
REBUILD_NEEDED = "REBUILD_NEEDED"
MAX_PAGE_SIZE = 100
MAX_PAGE = 1000


class IndexBusy(TimeoutError):
    """Another writer (e.g. a rebuild) holds the index; retry later."""


# -- fields -------------------------------------------------------------------


class _Terms(fields.FieldType):
    """An indexed text field whose terms come ready-made from :mod:`search.analysis`.

    Frequencies only, no positions: exact (phrase) matching is done on the
    canonical text column (:class:`CanonicalText`), so the postings only
    have to say which documents hold a term and how often.
    """

    def __init__(self) -> None:
        self.format = formats.Frequency()
        self.analyzer = None
        self.scorable = False  # ranking is ours (search.whoosh_reader): no field lengths
        self.stored = False
        self.unique = False
        self.vector = None
        self.column_type = None

    @staticmethod
    def counts(value: Any) -> Mapping[str, int]:
        raise NotImplementedError

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        for tok, n in self.counts(value).items():
            yield tok.encode("utf-8"), n, float(n), freq_bytes(n)


class BigramField(_Terms):
    """Bigrams, words and word-adjacent unigrams (see :func:`token_counts`).

    Accepts a string or a list of strings (separate values: no match spans two).
    """

    counts = staticmethod(token_counts)


class CanonicalText(fields.FieldType):
    """Not indexed: the canonical unit stream (UTF-8) in a column.

    A query segment occurs in a document exactly when its canonical form is
    a substring of this (see :func:`search.analysis.canonical`); values of a
    list are joined with a boundary so no match spans two.
    """

    indexed = False

    def __init__(self) -> None:
        self.format = None
        self.analyzer = None
        self.scorable = False
        self.stored = False
        self.unique = False
        self.vector = None
        self.column_type = columns.VarBytesColumn()

    def to_column_value(self, value: Any) -> bytes:
        texts = [value] if isinstance(value, str) else value
        return "\x02".join(canonical(t) for t in texts).encode("utf-8")


def make_schema() -> fields.Schema:
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        content=BigramField(),
        title=BigramField(),
        numkey=fields.ID(),
        allowed=fields.ID(),
        ancestors=fields.ID(),
        unit=fields.ID(sortable=True),
        type=fields.ID(sortable=True),
        subject=fields.ID(sortable=True),
        year=fields.ID(sortable=True),
        genre=fields.ID(),
        state=fields.ID(),
        published=fields.DATETIME(sortable=True),
        dated=fields.ID(),  # "1" when effective or expires is set
        effective=fields.DATETIME(sortable=True),
        expires=fields.DATETIME(sortable=True),
        doc=fields.STORED(),
        body=fields.STORED(),
        **{CONTENT_COLUMN: CanonicalText(), TITLE_COLUMN: CanonicalText()},
    )


def ancestors(path: str) -> list[str]:
    """``/a/b`` → ``["/", "/a", "/a/b"]`` so a subtree is one term lookup."""
    parts = [p for p in path.split("/") if p]
    return ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def normalize_prefix(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts)


def whoosh_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A prepared document (see :func:`prepare_document`) → ``add_document`` kwargs."""
    texts: list[str] = []
    for name in SEARCHABLE_FIELDS:
        value = doc.get(name)
        if isinstance(value, list):
            texts.extend(value)
        elif value:
            texts.append(value)
    out: dict[str, Any] = {
        "id": doc["id"],
        "content": texts,
        CONTENT_COLUMN: texts,
        "doc": {k: v for k, v in doc.items() if k not in ("text", "allowed")},
        "body": doc.get("text", ""),
    }
    if doc["allowed"]:
        out["allowed"] = list(doc["allowed"])  # none: visible to nobody
    if doc.get("title"):
        out["title"] = out[TITLE_COLUMN] = doc["title"]
    keys = {number_key(doc[n]) for n in ("doc_number", "index_number") if doc.get(n)}
    keys.discard("")
    if keys:
        out["numkey"] = sorted(keys)
    if doc.get("path"):
        out["ancestors"] = ancestors(doc["path"])
    for name in FILTER_FIELDS:
        if doc.get(name):
            out[name] = doc[name]
    for name in ("published", "effective", "expires"):
        if doc.get(name) is not None:
            out[name] = doc[name]
    if doc.get("effective") is not None or doc.get("expires") is not None:
        out["dated"] = "1"
    return out


# -- query building -----------------------------------------------------------


def _filter_terms(q: SearchQuery) -> list[list[tuple[str, str]]] | None:
    """The visibility and facet conditions as CNF: AND of ORs of (field, term).

    ``None`` when nothing can match (no principals at all).
    """
    given = q.principals or ()
    principals = [p for p in ([given] if isinstance(given, str) else given) if isinstance(p, str) and p]
    if not principals:
        return None
    clauses = [[("allowed", p) for p in dict.fromkeys(principals)]]
    for name, values in (q.filters or {}).items():
        if name not in FILTER_FIELDS or not values:
            continue
        vals = [values] if isinstance(values, (str, int)) else list(values)
        clauses.append([(name, str(v)) for v in dict.fromkeys(vals)])
    if q.path_prefix:
        clauses.append([("ancestors", normalize_prefix(q.path_prefix))])
    return clauses


def _positive_int(value: Any, default: int) -> int:
    """Paging input comes from URLs: anything odd means the default."""
    try:
        n = int(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return n if n > 0 else default


def _prepare(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """A valid document, or None (logged): one bad document must not block an
    outbox forever or abort a whole rebuild."""
    try:
        return prepare_document(doc)
    except (ValueError, TypeError):
        doc_id = doc.get("id") if isinstance(doc, Mapping) else None
        log.exception("search: skipping invalid document %r", doc_id)
        return None


# -- the backend --------------------------------------------------------------


class WhooshBackend(SearchBackend):
    """A Whoosh index under ``path``.

    :param procs: writer processes for :meth:`rebuild` (Whoosh ``MpWriter``
        when > 1; ``progress`` then counts documents handed to the writer
        processes, and the final wait for them follows).
    :param limitmb: memory per writer process before postings spill to disk.
    :param writer_timeout: seconds :meth:`index`/:meth:`unindex` wait for
        the write lock before raising :class:`IndexBusy` (a rebuild holds it
        for its whole run; an outbox simply retries later, and its retries
        land in the new index).
    """

    def __init__(self, path: str | os.PathLike[str], *, procs: int = 1, limitmb: int = 256,
                 writer_timeout: float = 10.0) -> None:  # fmt: skip
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.procs = procs
        self.limitmb = limitmb
        self.writer_timeout = writer_timeout
        self.schema = make_schema()
        self._storage = FileStorage(str(self.path))
        self._local = threading.local()
        self._current_cache: tuple[tuple[int, int], str] | None = None
        self._cache: tuple[str, SegmentCache] = ("", SegmentCache())
        if not (self.path / CURRENT).exists() or self._live_format() != FORMAT:
            with self._write_lock():
                if not (self.path / CURRENT).exists():
                    self._swap_in(self._build([], None)[0])
                elif (old := self._live_format()) != FORMAT:
                    log.warning("search index %s has format %s, this code writes %s: starting an empty index;"
                                " it must be rebuilt from the database (`portal reindex`)", self.path, old, FORMAT)
                    (self.path / REBUILD_NEEDED).write_text(f"format {old} replaced by {FORMAT}\n", "utf-8")
                    self._swap_in(self._build([], None)[0])

    def _live_format(self) -> str:
        """The live generation's format ("1" for generations written before formats were)."""
        path = self.path / self._current_gen() / FORMAT_FILE
        try:
            return path.read_text("utf-8").strip()
        except FileNotFoundError:
            return "1"

    @property
    def needs_rebuild(self) -> bool:
        return (self.path / REBUILD_NEEDED).exists()

    # -- generations and locking

    def _current_gen(self) -> str:
        p = self.path / CURRENT
        st = p.stat()
        key = (st.st_ino, st.st_mtime_ns)
        cached = self._current_cache
        if cached and cached[0] == key:
            return cached[1]
        name = p.read_text("utf-8").strip()
        self._current_cache = (key, name)
        return name

    @contextlib.contextmanager
    def _write_lock(self, timeout: float | None = None) -> Iterator[None]:
        lock = self._storage.lock(LOCK_NAME)
        deadline = time.monotonic() + (self.writer_timeout if timeout is None else timeout)
        while not lock.acquire(blocking=False):
            if time.monotonic() >= deadline:
                raise IndexBusy(f"search index {self.path} is locked by another writer")
            time.sleep(0.05)
        try:
            yield
        finally:
            lock.release()

    def _swap_in(self, gen: str) -> None:
        """Atomically make ``gen`` live, then delete every other generation."""
        tmp = self.path / f"{CURRENT}.{uuid.uuid4().hex}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(gen + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path / CURRENT)
        for child in self.path.iterdir():
            if child.is_dir() and child.name.startswith("gen-") and child.name != gen:
                shutil.rmtree(child, ignore_errors=True)

    def _open_writer_index(self) -> index.Index:
        return index.open_dir(str(self.path / self._current_gen()))

    # -- reading

    def _reader(self) -> Reader:
        """This thread's searcher on the live generation (refreshed if stale)."""
        for _attempt in range(5):
            gen = self._current_gen()
            r: Reader | None = getattr(self._local, "reader", None)
            try:
                if r is not None and r.gen == gen:
                    r.refresh()
                    return r
                if r is not None:
                    r.close()
                    self._local.reader = None
                if self._cache[0] != gen:  # a rebuild: none of the old segments remain
                    self._cache = (gen, SegmentCache())
                r = Reader(gen, index.open_dir(str(self.path / gen)), self._cache[1])
                self._local.reader = r
                return r
            except (OSError, index.EmptyIndexError):
                # the generation was swapped out under us: read CURRENT again
                self._current_cache = None
                self._local.reader = None
                time.sleep(0.01)
        raise RuntimeError(f"cannot open search index at {self.path}")

    def query(self, q: SearchQuery) -> SearchResults:
        parsed = parse(q.text)
        browsing = parsed.blank and (any(v for v in (q.filters or {}).values()) or q.path_prefix)
        if parsed.blank and not browsing:
            return SearchResults(0, [], {}, (MSG_EMPTY,))
        if parsed.is_empty and not browsing:
            return SearchResults(0, [], {}, parsed.messages)
        messages = () if browsing else parsed.messages
        clauses = _filter_terms(q)
        if clauses is None:
            return SearchResults(0, [], {}, messages)
        now = to_local_naive(q.now) if isinstance(q.now, datetime) else now_local()
        page = min(_positive_int(q.page, 1), MAX_PAGE)
        size = min(_positive_int(q.page_size, 10), MAX_PAGE_SIZE)
        facet_names = [f for f in dict.fromkeys(q.facets or ()) if f in FACET_FIELDS]

        reader = self._reader()
        visible = reader.all_of(clauses) & reader.live
        hidden = reader.hidden(now)
        if hidden:
            # The effective/expiry window limits only what is visible through Everyone:
            # whoever may view an item through another principal (its editor, reviewers)
            # finds it whatever its dates.
            others = [(f, t) for f, t in clauses[0] if t != EVERYONE]
            visible -= hidden - reader.any_of(others) if others else hidden
        by_date = q.sort == "date" or browsing
        limit = page * size
        scores: dict[int, float] = {}
        if browsing:
            matches = visible
        else:
            segs = [Segment.of(seg) for seg in parsed.segments]
            cands = visible
            for seg in sorted(segs, key=lambda s: len(reader.segment_docs(s))):
                cands = cands & reader.segment_docs(seg)
            numbers = BitMap()
            if parsed.number_key:
                numbers = reader.term_docs("numkey", parsed.number_key) & visible
            if not segs:
                cands = BitMap()
            if by_date:
                matches = reader.match(cands, segs, numbers)
            else:
                matches, top = reader.rank(cands, segs, numbers, limit)
                scores = dict((d, score) for score, d in top)
        total = len(matches)
        order = reader.newest(matches, limit) if by_date else list(scores)
        hits = [
            self._hit(reader, d, None if by_date else scores[d], parsed)
            for d in order[(page - 1) * size : page * size]
        ]
        facets = {name: reader.facet_counts(name, matches) for name in facet_names}
        return SearchResults(total, hits, facets, messages)

    @staticmethod
    def _hit(reader: Reader, docnum: int, score: float | None, parsed: ParsedQuery) -> Hit:
        stored = reader.searcher.stored_fields(docnum)
        doc = dict(stored.get("doc") or {})
        segs = parsed.segments
        highlights = {
            "title": highlight_whole(doc.get("title", ""), segs),
            "text": snippet(stored.get("body") or doc.get("description", ""), segs),
        }
        return Hit(doc.get("id", stored.get("id")), score, doc, highlights)

    # -- writing

    def index(self, docs: Iterable[Mapping[str, Any]]) -> int:
        prepared: dict[str, dict[str, Any]] = {}
        for doc in docs:
            p = _prepare(doc)
            if p is not None:
                prepared.pop(p["id"], None)  # the same id twice in a batch: the last wins
                prepared[p["id"]] = whoosh_fields(p)
        if not prepared:
            return 0
        with self._write_lock():
            writer = self._open_writer_index().writer(limitmb=self.limitmb, codec=codec())
            try:
                for fields_ in prepared.values():
                    writer.update_document(**fields_)
            except BaseException:
                writer.cancel()
                raise
            writer.commit()
        return len(prepared)

    def unindex(self, ids: Iterable[str]) -> None:
        ids = [i for i in ids if isinstance(i, str) and i]
        if not ids:
            return
        with self._write_lock():
            writer = self._open_writer_index().writer(codec=codec())
            try:
                for doc_id in ids:
                    writer.delete_by_term("id", doc_id)
            except BaseException:
                writer.cancel()
                raise
            writer.commit()

    def clear(self) -> None:
        self.rebuild([])

    def rebuild(self, docs: Iterable[Mapping[str, Any]], progress: Progress | None = None) -> int:
        with self._write_lock():
            gen, count = self._build(docs, progress)
            self._swap_in(gen)
            (self.path / REBUILD_NEEDED).unlink(missing_ok=True)
        return count

    def _build(self, docs: Iterable[Mapping[str, Any]], progress: Progress | None) -> tuple[str, int]:
        """Write a new generation directory; the live index is untouched."""
        gen = f"gen-{time.time_ns()}-{uuid.uuid4().hex[:6]}"
        gen_dir = self.path / gen
        gen_dir.mkdir()
        try:
            ix = index.create_in(str(gen_dir), self.schema)
            (gen_dir / FORMAT_FILE).write_text(FORMAT + "\n", "utf-8")
            if self.procs > 1:
                writer = ix.writer(procs=self.procs, limitmb=self.limitmb, multisegment=True, codec=codec())
            else:
                writer = ix.writer(limitmb=self.limitmb, codec=codec())
            seen: set[str] = set()
            later: dict[str, dict[str, Any]] = {}  # duplicate ids: the last one wins
            count = pending = 0
            try:
                for doc in docs:
                    prepared = _prepare(doc)
                    if prepared is None:
                        continue
                    if prepared["id"] in seen:
                        later[prepared["id"]] = prepared
                        continue
                    seen.add(prepared["id"])
                    writer.add_document(**whoosh_fields(prepared))
                    count += 1
                    pending += 1
                    if progress is not None and pending >= 500:
                        progress(pending)
                        pending = 0
            except BaseException:
                writer.cancel()
                raise
            writer.commit()
            if later:
                w = ix.writer(limitmb=self.limitmb, codec=codec())
                for prepared in later.values():
                    w.update_document(**whoosh_fields(prepared))
                w.commit()
            if progress is not None and pending:
                progress(pending)
            with ix.searcher() as check:  # MpWriter can lose a sub-writer silently
                if check.doc_count() != len(seen):
                    raise RuntimeError(f"rebuild wrote {check.doc_count()} of {len(seen)} documents")
            return gen, count
        except BaseException:
            shutil.rmtree(gen_dir, ignore_errors=True)
            raise

    # -- misc

    def doc_count(self) -> int:
        return self._reader().searcher.doc_count()

    def index_size(self) -> int:
        """Bytes on disk of the live generation."""
        gen_dir = self.path / self._current_gen()
        return sum(f.stat().st_size for f in gen_dir.rglob("*") if f.is_file())

    def close(self) -> None:
        r = getattr(self._local, "reader", None)
        if r is not None:
            r.close()
            self._local.reader = None
