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

Why a custom field instead of a Whoosh analyzer: the bigram stream of
:mod:`search.analysis` is produced in one regex pass and handed to Whoosh as
ready (term, positions) postings, skipping per-token objects; bulk indexing
is dominated by that path.

Visibility (principals, facet filters, subtree, effective/expires) is a set
of document numbers computed from cached term postings and handed to
Whoosh's ``FilterCollector``, so the engine never collects, counts or facets
a document the visitor may not see; the text query itself only decides what
matches and how it scores.  The effective/expires window applies to what is
visible through ``system.Everyone`` only: a visitor who may view a document
through another principal (its editor, a reviewer) finds it whatever its
dates, as the portal's security policy lets them view it.

whoosh3 3.54 defects worked around here (each has a regression test):

* ``AndNot`` lets the first matching document through unfiltered (its
  ``_find_first`` skips the check) -- hence the filter sets above;
* the top-N collector prunes union branches and then miscounts totals, even
  with ``optimize=False`` -- hence :class:`_TopCollector`;
* ``Searcher.refresh()`` reuses segment readers with stale deletions -- hence
  reopening (:meth:`_Reader.refresh`);
* ``FilterCollector`` treats an empty allow-set as "no filter" -- hence the
  explicit empty check in :meth:`WhooshBackend.query`;
* ``Phrase`` is very slow on common bigrams -- hence :class:`ExactConjunction`.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import marshal
import os
import shutil
import threading
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from whoosh import collectors, fields, formats, index, sorting, writing
from whoosh.analysis import Token, Tokenizer
from whoosh.codec import base as codec_base
from whoosh.filedb import compound, structfile
from whoosh.filedb.filestore import FileStorage
from whoosh.matching import binary, mcore, wrappers
from whoosh.query import Every, NullQuery, Or, Query, Require, Term
from whoosh.system import pack_uint
from whoosh.util import make_binary_tree
from whoosh.util.times import long_to_datetime

from search.analysis import is_cjk, number_key, phrase_cover, token_positions, unigram_counts
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

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
LOCK_NAME = "WRITELOCK"
MAX_PAGE_SIZE = 100
MAX_PAGE = 1000
TITLE_BONUS = 10.0  # per query segment found in the title (BM25 scores here are ~2-20)
NUMBER_BOOST = 1_000_000.0  # an exact 文号/索引号 always ranks first
DRIVE_FRACTION = 0.2  # visibility sets smaller than this share of the index drive the search


class IndexBusy(TimeoutError):
    """Another writer (e.g. a rebuild) holds the index; retry later."""


# -- bulk-indexing speed-up ----------------------------------------------------


class _GroupingPostingPool(writing.PostingPool):
    """Whoosh's posting pool, grouping postings by term as they arrive.

    Why: Whoosh keeps every posting as a (field, term, doc, weight, value)
    tuple, sorts them all, pickles them one by one to temp files when
    ``limitmb`` overflows and merges the files posting by posting in Python;
    for ~500 postings per document that was over half of bulk-indexing time.
    Documents arrive in docnum order, so grouping by (field, term) leaves
    only the distinct terms to sort; spilled runs are ``marshal``-ed groups
    and merge by term, not by posting.  The output (``items()``) is the same
    sorted stream of posting tuples Whoosh's writers consume.
    """

    RECORD = 20_000  # postings per marshal record: bounds memory when merging runs

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._groups: dict[tuple[str, bytes], list[tuple[int, Any, Any]]] = {}

    def add(self, item: tuple[str, bytes, int, Any, Any]) -> None:
        fieldname, text, docnum, weight, value = item
        key = (fieldname, text)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = []
            self.fieldnames.add(fieldname)
            self.currentsize += 250 + len(text)  # key tuple, dict slot, list
        group.append((docnum, weight, value))
        self.currentsize += 170 + (len(value) if value else 0)  # tuple, int, float, bytes
        if self.currentsize > self.limit:
            self.save()

    def _sorted_groups(self) -> list[tuple[tuple[str, bytes], list[Any]]]:
        groups = sorted(self._groups.items())
        for _, postings in groups:
            postings.sort()  # already in docnum order: a linear check
        return groups

    def save(self) -> None:
        if self._groups:
            path, f = self._new_run()
            record: list[tuple[Any, list[Any]]] = []
            size = 0
            for key, postings in self._sorted_groups():
                for i in range(0, len(postings), self.RECORD):
                    part = postings[i : i + self.RECORD]
                    record.append((key, part))
                    size += len(part)
                    if size >= self.RECORD:
                        marshal.dump(record, f)
                        record, size = [], 0
            if record:
                marshal.dump(record, f)
            f.close()
            self._add_run(path)
            self._groups = {}
        self.currentsize = 0

    def _read_groups(self, path: str, order: int) -> Iterator[tuple[Any, int, int, list[Any]]]:
        """(key, run order, sequence, postings); a big group may span records."""
        f = self._open_run(path)
        seq = 0
        try:
            while True:
                try:
                    record = marshal.load(f)
                except EOFError:
                    return
                for key, postings in record:
                    yield key, order, seq, postings
                    seq += 1
        finally:
            f.close()
            self._remove_run(path)

    def items(self, maxfiles: int = 128) -> Iterator[tuple[str, bytes, int, Any, Any]]:
        if not self.runs:
            merged: Iterable[tuple[Any, int, int, list[Any]]] = (
                (key, 0, 0, postings) for key, postings in self._sorted_groups()
            )
            self._groups = {}
        else:
            self.save()
            runs, self.runs = self.runs, []
            # runs hold increasing docnum ranges, so equal terms concatenate in
            # (run, sequence) order; the tuple never compares the posting lists
            merged = heapq.merge(*(self._read_groups(p, i) for i, p in enumerate(runs)))
        for (fieldname, text), _, _, postings in merged:
            for docnum, weight, value in postings:
                yield fieldname, text, docnum, weight, value

    # Whoosh's generic run API (used by MpWriter without ``multisegment``)

    def _write_run(self, f: Any, items: Iterable[Any]) -> None:
        for key, group in itertools.groupby(items, key=lambda it: (it[0], it[1])):
            marshal.dump([(key, [(d, w, v) for _, _, d, w, v in group])], f)
        f.close()

    def _read_run(self, path: str) -> Iterator[Any]:
        for (fieldname, text), _, _, postings in self._read_groups(path, 0):
            for docnum, weight, value in postings:
                yield fieldname, text, docnum, weight, value


class _CachedLengths:
    """Per-document field lengths read once per field instead of per posting.

    Why: when writing postings Whoosh looks up the document's field length
    for every posting (a seek + read in the lengths column, ~15% of bulk
    indexing); a list indexed by docnum does the same in C.
    """

    def __init__(self, pdr: Any) -> None:
        self._pdr = pdr

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pdr, name)

    def doc_field_length_reader(self, fieldname: str, default: int = 0) -> Any:
        get = self._pdr.doc_field_length_reader(fieldname, default)
        return [get(d) for d in range(self._pdr.doc_count_all())].__getitem__


_add_postings = codec_base.FieldWriter.add_postings


def _add_postings_cached(self: Any, schema: Any, lengths: Any, items: Any) -> Any:
    if lengths is not None and hasattr(lengths, "doc_field_length_reader"):
        lengths = _CachedLengths(lengths)
    return _add_postings(self, schema, lengths, items)


# Module-level so that MpWriter's forked sub-writers use them too (whoosh3
# 3.54 ignores SegmentWriter's ``poolclass`` argument).
writing.PostingPool = _GroupingPostingPool  # type: ignore[misc]
codec_base.FieldWriter.add_postings = _add_postings_cached  # type: ignore[method-assign]


# -- reading without copying ---------------------------------------------------


class _ViewIO:
    """A read-only file over a memoryview (of the mmapped segment), no copy."""

    __slots__ = ("_mv", "_pos", "_len")

    def __init__(self, mv: memoryview) -> None:
        self._mv, self._pos, self._len = mv, 0, len(mv)

    def read(self, size: int | None = -1) -> bytes:
        pos = self._pos
        end = self._len if size is None or size < 0 else min(self._len, pos + size)
        self._pos = end
        return self._mv[pos:end].tobytes()

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        out = bytearray()
        while (size is None or size < 0 or len(out) < size) and self._pos < self._len:
            ch = self._mv[self._pos : self._pos + 1].tobytes()
            self._pos += 1
            out += ch
            if ch == b"\n":
                break
        return bytes(out)

    def seek(self, pos: int, whence: int = 0) -> int:
        base = 0 if whence == 0 else self._pos if whence == 1 else self._len
        self._pos = max(0, base + pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._mv = memoryview(b"")


class _ViewBufferFile(structfile.BufferFile):
    """``BufferFile`` without whoosh3's ``BytesIO(buf)``, which copies the whole
    mmapped file: ~1.2 GB of RAM per open searcher on a 100k-document index."""

    def __init__(self, buf: Any, name: str | None = None, onclose: Any = None) -> None:
        super().__init__(b"", name=name, onclose=onclose)
        self._buf = buf
        self.file = _ViewIO(buf if isinstance(buf, memoryview) else memoryview(buf))


compound.BufferFile = _ViewBufferFile  # type: ignore[misc]


# -- fields -------------------------------------------------------------------


class _BigramTokenizer(Tokenizer):
    """Whoosh view of :func:`token_positions` (only for Whoosh internals)."""

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True,
                 start_pos: int = 0, start_char: int = 0, tokenize: bool = True,
                 mode: str = "", **kwargs: Any) -> Iterator[Token]:  # fmt: skip
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        flat = sorted((p, tok) for tok, ps in token_positions(value).items() for p in ps)
        for p, tok in flat:
            t.text, t.boost, t.stopped = tok, 1.0, False
            if positions:
                t.pos = start_pos + p
            yield t


class BigramField(fields.TEXT):
    """Positional field of bigrams/words (see :mod:`search.analysis`).

    Accepts a string or a list of strings (separate values: no match spans two).
    """

    def __init__(self, field_boost: float = 1.0) -> None:
        super().__init__(analyzer=_BigramTokenizer(), phrase=True, field_boost=field_boost)

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        encode = self.format.encode
        fb = self.format.field_boost
        for tok, ps in token_positions(value).items():
            yield tok.encode("utf-8"), len(ps), len(ps) * fb, encode(ps)


class UnigramField(fields.FieldType):
    """Every CJK character with its frequency, so ``政`` is one term lookup."""

    def __init__(self) -> None:
        self.format = formats.Frequency()
        self.analyzer = _BigramTokenizer()
        self.scorable = True
        self.stored = False
        self.unique = False
        self.vector = None
        self.column_type = None

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        for ch, n in unigram_counts(value).items():
            yield ch.encode("utf-8"), n, float(n), pack_uint(n)


def make_schema() -> fields.Schema:
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        content=BigramField(),
        uni=UnigramField(),
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
        "uni": texts,
        "doc": {k: v for k, v in doc.items() if k not in ("text", "allowed")},
        "body": doc.get("text", ""),
    }
    if doc["allowed"]:
        out["allowed"] = list(doc["allowed"])  # none: visible to nobody
    if doc.get("title"):
        out["title"] = doc["title"]
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


# -- exact phrases ------------------------------------------------------------


class _ConjunctionMatcher(wrappers.WrappingMatcher):
    """All terms present, and each phrase group at its exact relative offsets.

    Why not Whoosh's ``Phrase``/``And``: ``Phrase`` builds Span objects per
    position (it was ~90% of query time on common bigrams), and an ``And`` of
    phrases checks each phrase's positions before knowing the other phrases'
    terms are present.  Here one intersection (rarest term first) yields
    candidates, then each group costs one set intersection of decoded
    positions.
    """

    def __init__(self, ms: list[Any], groups: list[list[tuple[int, int]]]) -> None:
        self.ms, self.groups = ms, groups
        super().__init__(make_binary_tree(binary.IntersectionMatcher, ms) if len(ms) > 1 else ms[0])
        self._find_next()

    def _ok(self) -> bool:
        decoded: dict[int, list[int]] = {}
        for group in self.groups:
            cands: set[int] | None = None
            for idx, off in group:
                ps = decoded.get(idx)
                if ps is None:
                    ps = decoded[idx] = self.ms[idx].value_as("positions")
                shifted = {p - off for p in ps}
                cands = shifted if cands is None else cands & shifted
                if not cands:
                    return False
        return True

    def _find_next(self) -> bool:
        if not self.groups:
            return False
        child = self.child
        moved = False
        while child.is_active() and not self._ok():
            moved = child.next() or moved
        return moved

    def next(self) -> bool:
        moved = self.child.next()
        return self._find_next() or bool(moved)

    def skip_to(self, id: int) -> None:
        self.child.skip_to(id)
        self._find_next()

    def all_ids(self) -> Iterator[int]:
        while self.is_active():
            yield self.id()
            self.next()

    def copy(self) -> _ConjunctionMatcher:
        return _ConjunctionMatcher([m.copy() for m in self.ms], self.groups)

    def replace(self, minquality: float = 0) -> Any:
        return self if self.is_active() else mcore.NullMatcher()

    def supports_block_quality(self) -> bool:
        return False

    def spans(self) -> list[Any]:
        return []


class ExactConjunction(Query):
    """Every part must match; a part is a (field, phrase cover) pair.

    A cover of one token is a plain term; longer covers are tokens at fixed
    relative positions (see :func:`search.analysis.phrase_cover`).
    """

    def __init__(self, parts: list[tuple[str, list[tuple[int, str]]]]) -> None:
        self.parts = parts

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.parts == other.parts  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(tuple((f, tuple(c)) for f, c in self.parts))

    def __repr__(self) -> str:
        return f"ExactConjunction({self.parts!r})"

    def has_terms(self) -> bool:
        return True

    def terms(self, phrases: bool = False) -> Iterator[tuple[str, str]]:
        for field, cover in self.parts:
            for _, tok in cover:
                yield field, tok

    def normalize(self) -> ExactConjunction:
        return self

    def estimate_size(self, ixreader: Any) -> int:
        return min((ixreader.doc_frequency(f, t) for f, t in self.terms()), default=0)

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        reader = searcher.reader()
        unique = list(dict.fromkeys(self.terms()))
        if not unique or any(t not in reader for t in unique):
            return mcore.NullMatcher()
        unique.sort(key=lambda t: reader.doc_frequency(*t))  # rarest first
        index = {t: i for i, t in enumerate(unique)}
        ms = [Term(f, tok).matcher(searcher, context) for f, tok in unique]
        groups = [
            sorted(((index[(field, tok)], off) for off, tok in cover), key=lambda g: g[0])
            for field, cover in self.parts
            if len(cover) > 1
        ]
        return _ConjunctionMatcher(ms, groups)


class _DocSet(Query):
    """Matches a given set of (global) docnums; used to *drive* a search.

    Why: the visibility set is also a filter in the collector, but when it is
    small (a unit filter, a subtree, staff-only documents) intersecting the
    text query with it first lets the term matchers skip ahead instead of
    producing every text match only for the collector to drop it.
    """

    def __init__(self, docs: set[int], offsets: dict[int, tuple[int, int]]) -> None:
        self.docs, self.offsets = docs, offsets

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"_DocSet({len(self.docs)} docs)"

    def normalize(self) -> _DocSet:
        return self

    def estimate_size(self, ixreader: Any) -> int:
        return len(self.docs)

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        off, n = self.offsets.get(id(searcher), (0, searcher.doc_count_all()))
        ids = sorted(d - off for d in self.docs if off <= d < off + n)
        return mcore.ListMatcher(ids, all_weights=1.0) if ids else mcore.NullMatcher()


def _leaf_offsets(searcher: Any) -> dict[int, tuple[int, int]]:
    return {id(s): (off, s.doc_count_all()) for s, off in searcher.leaf_searchers()}


# -- query building -----------------------------------------------------------


def _segment_part(seg: tuple[str, ...], field: str) -> tuple[str, list[tuple[int, str]]] | None:
    if len(seg) == 1 and is_cjk(seg[0]):
        return ("uni", [(0, seg[0])]) if field == "content" else None
    return field, phrase_cover(list(seg))


def _text_query(parsed: ParsedQuery, reader: Any) -> Query:
    """What must match: every segment in ``content`` (or an exact 文号/索引号)."""
    parts = [p for p in (_segment_part(s, "content") for s in parsed.segments) if p is not None]
    main: Query = ExactConjunction(parts) if parts else NullQuery
    key = parsed.number_key
    if key and ("numkey", key) in reader:
        main = Or([main, Term("numkey", key)]) if parts else Term("numkey", key)
    return main


def _bonuses(searcher: Any, parsed: ParsedQuery) -> dict[int, float]:
    """Score added per document: segments found in the title, exact numbers.

    Why not ``AndMaybe(main, title_query)``: that costs a union step for every
    matching document; the title (and number) matches are few, so a dict
    lookup in the collector is much cheaper.
    """
    bonus: dict[int, float] = {}
    for seg in parsed.segments:
        part = _segment_part(seg, "title")
        if part is not None:
            for d in searcher.docs_for_query(ExactConjunction([part])):
                bonus[d] = bonus.get(d, 0.0) + TITLE_BONUS
    if parsed.number_key:
        for d in searcher.docs_for_query(Term("numkey", parsed.number_key)):
            bonus[d] = bonus.get(d, 0.0) + NUMBER_BOOST
    return bonus


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


def _column_values(reader: Any, name: str) -> Iterator[Any]:
    """A column's raw value for every docnum, segment by segment.

    Not the multi-segment column reader: a segment's column can be shorter than the segment
    (or missing), and whoosh3's MultiColumnReader then shifts or overruns docnums.
    """
    for leaf, _offset in reader.leaf_readers():
        count = leaf.doc_count_all()
        col = leaf.column_reader(name) if leaf.has_column(name) else None
        for d in range(count):
            try:
                yield col[d] if col is not None else None
            except IndexError:
                yield None


class _TopCollector(collectors.TopCollector):
    """Top-N by score plus per-document bonus, counting every match.

    Why not ``searcher.search(limit=…)``: Whoosh's top-N collector periodically
    calls ``matcher.replace(minscore)``, which prunes union branches that
    cannot reach the current top N; fine for ranking, but it makes the total
    (and facet counts) wrong, even with ``optimize=False``.
    """

    def __init__(self, limit: int, bonus: dict[int, float]) -> None:
        super().__init__(limit, usequality=False)
        self.replace = 0  # no pruning: count every match
        self.bonus = bonus

    def _collect(self, global_docnum: int, score: float) -> Any:
        extra = self.bonus.get(global_docnum)
        return super()._collect(global_docnum, score + extra if extra else score)


class _Recorder(collectors.WrappingCollector):
    """Remembers every collected (global) docnum, for facet counting.

    Why not Whoosh's ``FacetCollector``: it categorises each match per facet
    in Python (decode, key, map); counting a cached docnum→value list with
    ``Counter`` is several times faster.
    """

    def __init__(self, child: collectors.Collector) -> None:
        self.child = child
        self.docnums: list[int] = []

    def collect(self, sub_docnum: int) -> Any:
        self.docnums.append(self.child.offset + sub_docnum)
        return self.child.collect(sub_docnum)


def _collector(limit: int, by_date: bool, bonus: dict[int, float]) -> collectors.Collector:
    """A collector that sees *every* match, so totals and facets are exact."""
    if by_date:
        return collectors.SortingCollector(sorting.FieldFacet("published", reverse=True), limit=limit)
    return _TopCollector(limit, bonus)


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


def _col_date(col: Any, docnum: int) -> datetime:
    value = col[docnum]
    return value if isinstance(value, datetime) else long_to_datetime(value)


class _Reader:
    """One thread's searcher plus docnum sets cached for its lifetime."""

    __slots__ = ("gen", "ix", "searcher", "_sets", "_cached_items", "_dated", "_facets")
    #: Bound on docnums held in cached filter sets (~50 bytes each).
    MAX_CACHED_ITEMS = 2_000_000

    def __init__(self, gen: str, ix: index.Index) -> None:
        self.gen, self.ix, self.searcher = gen, ix, ix.searcher()
        # plain sets (Whoosh's filter rejects frozenset); never mutated
        self._sets: dict[tuple[str, str], set[int]] = {}
        self._cached_items = 0
        self._facets: dict[str, list[str | None]] = {}
        self._dated: list[tuple[int, datetime | None, datetime | None]] | None = None

    def refresh(self) -> None:
        """Reopen if the generation has new commits.

        Not ``Searcher.refresh()``: in whoosh3 3.54 it reuses segment readers
        with stale deletion sets (a replaced document would still be found),
        and it fails outright on a previously empty index.
        """
        if not self.searcher.up_to_date():
            self.searcher.close()
            self.searcher = self.ix.searcher()
            self._sets, self._cached_items = {}, 0
            self._facets = {}
            self._dated = None

    def term_docs(self, field: str, text: str) -> set[int]:
        key = (field, text)
        docs = self._sets.get(key)
        if docs is None:
            docs = set(self.searcher.docs_for_query(Term(field, text)))
            if self._cached_items + len(docs) > self.MAX_CACHED_ITEMS:
                self._sets, self._cached_items = {}, 0
            self._sets[key] = docs
            self._cached_items += len(docs)
        return docs

    def hidden(self, now: datetime) -> set[int]:
        """Documents not in force at ``now``: effective > now or expires <= now.

        Only documents with a date are looked at (few), and their dates are
        read once per searcher, so this is a short Python loop per query.
        """
        if self._dated is None:
            reader = self.searcher.reader()
            docs = sorted(self.searcher.docs_for_query(Term("dated", "1")))
            eff = reader.column_reader("effective") if docs else None
            exp = reader.column_reader("expires") if docs else None
            has_eff = set(self.searcher.docs_for_query(Every("effective"))) if docs else set()
            has_exp = set(self.searcher.docs_for_query(Every("expires"))) if docs else set()
            self._dated = [
                (d, _col_date(eff, d) if d in has_eff else None, _col_date(exp, d) if d in has_exp else None)
                for d in docs
            ]
        return {d for d, e, x in self._dated if (e is not None and e > now) or (x is not None and x <= now)}

    def facet_values(self, name: str) -> list[str | None]:
        """The facet field's value for every docnum (None when empty)."""
        values = self._facets.get(name)
        if values is None:
            decoded: dict[Any, str | None] = {}
            values = []
            for raw in _column_values(self.searcher.reader(), name):
                v = decoded.get(raw)
                if v is None and raw not in decoded:
                    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
                    v = decoded[raw] = text or None
                values.append(v)
            self._facets[name] = values
        return values

    def allowed(self, clauses: list[list[tuple[str, str]]]) -> set[int]:
        """Docnums satisfying every clause (each an OR of terms)."""
        sets = []
        for clause in clauses:
            parts = [self.term_docs(f, t) for f, t in clause]
            sets.append(parts[0] if len(parts) == 1 else set().union(*parts))
        sets.sort(key=len)
        result = sets[0]
        for other in sets[1:]:
            result = result & other
        return result

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.searcher.close()


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
        if not (self.path / CURRENT).exists():
            with self._write_lock():
                if not (self.path / CURRENT).exists():
                    self._swap_in(self._build([], None)[0])

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

    def _reader(self) -> _Reader:
        """This thread's searcher on the live generation (refreshed if stale)."""
        for _attempt in range(5):
            gen = self._current_gen()
            r: _Reader | None = getattr(self._local, "reader", None)
            try:
                if r is not None and r.gen == gen:
                    r.refresh()
                    return r
                if r is not None:
                    r.close()
                    self._local.reader = None
                r = _Reader(gen, index.open_dir(str(self.path / gen)))
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
            return SearchResults(0, [], {}, MSG_EMPTY)
        if parsed.is_empty and not browsing:
            return SearchResults(0, [], {}, parsed.message)
        message = None if browsing else parsed.message
        clauses = _filter_terms(q)
        if clauses is None:
            return SearchResults(0, [], {}, message)
        now = to_local_naive(q.now) if isinstance(q.now, datetime) else now_local()
        page = min(_positive_int(q.page, 1), MAX_PAGE)
        size = min(_positive_int(q.page_size, 10), MAX_PAGE_SIZE)
        facet_names = [f for f in dict.fromkeys(q.facets or ()) if f in FACET_FIELDS]

        reader = self._reader()
        searcher = reader.searcher
        allow = reader.allowed(clauses)
        if not allow:  # Whoosh treats an empty allow-set as "no filter"
            return SearchResults(0, [], {f: [] for f in facet_names}, message)
        hidden = reader.hidden(now)
        if hidden:
            # The effective/expiry window limits only what is visible through Everyone:
            # whoever may view an item through another principal (its editor, reviewers)
            # finds it whatever its dates.
            others = [(f, t) for f, t in clauses[0] if t != EVERYONE]
            if others:
                hidden = hidden - reader.allowed([others])
        by_date = q.sort == "date" or browsing
        main = Every() if browsing else _text_query(parsed, searcher.reader())
        if len(allow) < DRIVE_FRACTION * searcher.doc_count_all():
            main = Require(main, _DocSet(allow, _leaf_offsets(searcher)))
        bonus = {} if by_date else _bonuses(searcher, parsed)
        inner = _collector(page * size, by_date, bonus)
        recorder = _Recorder(inner) if facet_names else None
        collector = collectors.FilterCollector(recorder or inner, allow, hidden or None)
        searcher.search_with_collector(main, collector)
        results = collector.results()
        total = len(results)
        hits = [self._hit(h, parsed, by_date) for h in results[(page - 1) * size : page * size]]
        facets: dict[str, list[tuple[str, int]]] = {}
        for name in facet_names:
            assert recorder is not None
            counts = Counter(map(reader.facet_values(name).__getitem__, recorder.docnums))
            counts.pop(None, None)
            facets[name] = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return SearchResults(total, hits, facets, message)

    @staticmethod
    def _hit(h: Any, parsed: ParsedQuery, by_date: bool) -> Hit:
        stored = h.fields()
        doc = dict(stored.get("doc") or {})
        segs = parsed.segments
        highlights = {
            "title": highlight_whole(doc.get("title", ""), segs),
            "text": snippet(stored.get("body") or doc.get("description", ""), segs),
        }
        return Hit(doc.get("id", stored.get("id")), None if by_date else h.score, doc, highlights)

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
            writer = self._open_writer_index().writer(limitmb=self.limitmb)
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
            writer = self._open_writer_index().writer()
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
        return count

    def _build(self, docs: Iterable[Mapping[str, Any]], progress: Progress | None) -> tuple[str, int]:
        """Write a new generation directory; the live index is untouched."""
        gen = f"gen-{time.time_ns()}-{uuid.uuid4().hex[:6]}"
        gen_dir = self.path / gen
        gen_dir.mkdir()
        try:
            ix = index.create_in(str(gen_dir), self.schema)
            if self.procs > 1:
                writer = ix.writer(procs=self.procs, limitmb=self.limitmb, multisegment=True)
            else:
                writer = ix.writer(limitmb=self.limitmb)
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
                w = ix.writer(limitmb=self.limitmb)
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
