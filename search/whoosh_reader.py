"""Query evaluation over one Whoosh searcher with document sets, not matchers.

Why not Whoosh's matchers and collectors: they spend ~25 µs of Python per
matching document (skip_to/next on every term, position decoding, per-term
scoring, collector bookkeeping), and a common query on a county portal
matches tens of thousands of documents, all of which must be counted and
faceted.  Here:

* every set operation -- visibility (principals, effective window), facet
  filters, subtree, the conjunction of a query's terms, facet counts -- is a
  compressed-bitmap operation in C (pyroaring ``BitMap``) over term document
  sets read from Whoosh's postings;
* the term conjunction yields *candidates*: documents holding all of a
  segment's index terms somewhere.  A segment of one term (``电子``,
  ``2011``) is matched exactly by them.  Longer segments (and single
  characters) are checked in each candidate's canonical text (see
  :func:`search.analysis.canonical`; a Whoosh column read straight from the
  memory-mapped segment) with one C substring search -- the exact-match
  test, equivalent to a phrase query over consecutive bigrams;
* ranking is BM25 on exact phrase counts (``bytes.count``), computed only
  for the documents that can reach the requested page (see
  :meth:`Reader.rank`).

Term sets and phrase matches are cached per *index segment*
(:class:`SegmentCache`), which never changes once written, so they survive
the commits of the outbox writer.  The per-document Python work left is
about 1 µs per candidate the first time a long phrase is searched.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import mmap
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pyroaring import BitMap
from whoosh import columns, index
from whoosh.codec.whoosh3 import W3Codec, W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.query import Every
from whoosh.util.times import long_to_datetime

from search.analysis import canonical_segment, is_cjk, query_tokens

K1, B = 1.2, 0.75  # BM25 parameters (the usual ones)
TITLE_BONUS = 10.0  # per query segment found in the title (BM25 scores here are ~1-15)
NUMBER_BOOST = 1_000_000.0  # an exact 文号/索引号 always ranks first

CONTENT_COLUMN = "canon"  # canonical text of every searchable value
TITLE_COLUMN = "tcanon"  # canonical text of the title


@dataclass(frozen=True)
class Segment:
    """One query segment: the terms that must all occur, and its exact form."""

    #: Index terms that all occur in every match; none for a single CJK
    #: character (no term holds exactly it: every document is a candidate).
    terms: tuple[str, ...]
    needle: bytes  # canonical UTF-8; a substring test on canonical text is exact
    #: The segment is one token: the term's documents are exactly the matches.
    exact: bool

    @classmethod
    def of(cls, seg: tuple[str, ...]) -> Segment:
        needle = canonical_segment(list(seg)).encode("utf-8")
        if len(seg) == 1 and is_cjk(seg[0]):
            return cls((), needle, False)
        tokens = query_tokens(list(seg))  # 政政政 is 政政 twice: not exact
        return cls(tuple(dict.fromkeys(tokens)), needle, len(tokens) == 1)


class SegmentCache:
    """Term document sets per *segment*, shared by all readers of an index.

    Why per segment: a commit (every outbox drain) reopens the searcher, but
    it only adds a small segment and marks deletions; the big segments'
    postings are unchanged, so their sets stay valid and the first query
    after an edit does not start cold.  Deleted documents are removed by
    each reader (:attr:`Reader.live`), not here.  Thread-safe enough: values
    are never mutated, and a race only builds a set twice.
    """

    #: Bound on cached sets (each at most ~8 KB per 65,536 documents).
    MAX_SETS = 4096

    def __init__(self) -> None:
        self._items: dict[tuple[str, str, str], Any] = {}

    def get(self, key: tuple[str, str, str]) -> Any:
        return self._items.get(key)

    def put(self, key: tuple[str, str, str], value: Any) -> Any:
        if len(self._items) >= self.MAX_SETS:
            with contextlib.suppress(KeyError, StopIteration, RuntimeError):
                self._items.pop(next(iter(self._items)))  # oldest first
        self._items[key] = value
        return value

    def term_docs(self, leaf: Any, field: str, text: str) -> BitMap:
        """Local docnums of ``leaf`` whose ``field`` holds ``text``."""
        segment = getattr(leaf, "_segment", None)
        if segment is None:  # an empty reader
            return BitMap()
        key = (segment.segment_id(), field, text)
        docs = self._items.get(key)
        if docs is None:
            docs = _posting_set(leaf.postings(field, text)) if (field, text) in leaf else BitMap()
            self.put(key, docs)
        return docs


class _Column:
    """A leaf's VarBytes column as (buffer, start, end) without copying.

    Why not ``column_reader()[docnum]``: that costs a few Python calls per
    document; with the memory-mapped buffer and absolute offsets a candidate
    costs one slice.
    """

    __slots__ = ("buf", "starts", "ends", "_owned")

    def __init__(self, leaf: Any, name: str, column: columns.Column, cache: SegmentCache) -> None:
        self._owned: Any = None
        count = leaf.doc_count_all()
        storage, segment = getattr(leaf, "_storage", None), getattr(leaf, "_segment", None)
        filename = W3Codec.column_filename(segment, name) if segment is not None else ""
        if storage is None or not storage.file_exists(filename):  # EmptyReader, or no such column
            self.buf: Any = b""
            self.starts = self.ends = [0] * count
            return
        while hasattr(storage, "a") and hasattr(storage, "b"):  # OverlayStorage: reads from a, else b
            storage = storage.a if storage.a.file_exists(filename) else storage.b
        source = getattr(storage, "_source", None)
        if source is not None:  # compound segment: one mmap for all its files
            base, length = storage.range(filename)
            self.buf = source
        elif hasattr(storage, "folder"):  # plain segment files (whoosh writes these when compound=False)
            with open(os.path.join(storage.folder, filename), "rb") as f:
                self._owned = self.buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            base, length = 0, len(self.buf)
        else:  # a compound file whoosh could not map: read the column into memory
            with contextlib.closing(storage.open_file(filename)) as f:
                self.buf = f.read()
            base, length = 0, len(self.buf)
        key = (segment.segment_id(), "column", name)
        bounds = cache.get(key)
        if bounds is None:
            colfile = storage.open_file(filename)
            try:
                reader = column.reader(colfile, 0, length, count)
                offsets, lengths = reader._offsets, reader._lengths
            finally:
                colfile.close()
            starts = [base + o for o in offsets]
            bounds = cache.put(key, (starts, [s + n for s, n in zip(starts, lengths)]))
        self.starts, self.ends = bounds

    def total_length(self) -> int:
        return sum(self.ends) - sum(self.starts)

    def close(self) -> None:
        if self._owned is not None:
            with contextlib.suppress(Exception):
                self._owned.close()


@dataclass
class _Leaf:
    reader: Any  # whoosh SegmentReader (or EmptyReader)
    segment_id: str | None
    offset: int
    count: int
    docs: BitMap  # the leaf's global docnum range
    content: _Column
    title: _Column


class Reader:
    """One thread's searcher plus the document sets cached for its lifetime.

    Segments are immutable, so everything cached here stays valid until the
    searcher is reopened on a new commit (:meth:`refresh`).
    """

    #: Term document sets kept per searcher (the segment cache keeps more).
    MAX_TERM_SETS = 1024

    def __init__(self, gen: str, ix: index.Index, cache: SegmentCache) -> None:
        self.gen, self.ix, self.cache = gen, ix, cache
        self._open()

    def _open(self) -> None:
        self.searcher = self.ix.searcher()
        try:
            self._load()
        except BaseException:
            self.close()  # no searcher (open files, mmaps) left behind for the GC
            raise

    def _load(self) -> None:
        self.reader = self.searcher.reader()
        self._terms: dict[tuple[str, str], BitMap] = {}
        self._candidates: dict[tuple[Segment, str], BitMap] = {}
        self._facets: dict[str, list[tuple[str, BitMap]]] = {}
        self._dated: list[tuple[int, datetime | None, datetime | None]] | None = None
        self._published: list[int] | None = None
        self._order: list[int] | None = None
        schema = self.ix.schema
        self.leaves: list[_Leaf] = []
        live = BitMap()
        for leaf, offset in self.reader.leaf_readers():
            n = leaf.doc_count_all()
            docs = BitMap(range(offset, offset + n))
            segment = getattr(leaf, "_segment", None)
            self.leaves.append(_Leaf(
                leaf, segment.segment_id() if segment is not None else None, offset, n, docs,
                _Column(leaf, CONTENT_COLUMN, schema[CONTENT_COLUMN].column_type, self.cache),
                _Column(leaf, TITLE_COLUMN, schema[TITLE_COLUMN].column_type, self.cache),
            ))  # fmt: skip
            live |= docs
            if leaf.has_deletions():
                live -= BitMap(offset + d for d in leaf.deleted_docs_set)
        self.live = live
        self.doc_count = len(live)
        total = sum(leaf.content.total_length() for leaf in self.leaves)
        self.avg_length = total / max(1, sum(leaf.count for leaf in self.leaves)) or 1.0

    def refresh(self) -> None:
        """Reopen if the generation has new commits.

        Not ``Searcher.refresh()``: in whoosh3 3.54 it reuses segment readers
        with stale deletion sets (a replaced document would still be found),
        and it fails outright on a previously empty index.
        """
        if not self.searcher.up_to_date():
            self.close()
            self._open()

    def close(self) -> None:
        for leaf in getattr(self, "leaves", ()):
            leaf.content.close()
            leaf.title.close()
        with contextlib.suppress(Exception):
            self.searcher.close()

    # -- document sets

    def term_docs(self, field: str, text: str) -> BitMap:
        """Global docnums whose ``field`` holds ``text`` (deleted ones included)."""
        key = (field, text)
        docs = self._terms.get(key)
        if docs is None:
            parts = []
            for leaf, offset in self.reader.leaf_readers():
                local = self.cache.term_docs(leaf, field, text)
                if local:
                    parts.append(local.shift(offset) if offset else local)
            docs = BitMap.union(*parts) if parts else BitMap()
            if len(self._terms) >= self.MAX_TERM_SETS:
                self._terms.pop(next(iter(self._terms)))  # oldest first
            self._terms[key] = docs
        return docs

    def any_of(self, terms: list[tuple[str, str]]) -> BitMap:
        return BitMap.union(*(self.term_docs(f, t) for f, t in terms)) if terms else BitMap()

    def all_of(self, clauses: list[list[tuple[str, str]]]) -> BitMap:
        """Docnums satisfying every clause (each an OR of terms)."""
        sets = sorted((self.any_of(c) for c in clauses), key=len)
        return BitMap.intersection(*sets) if sets else BitMap()

    def segment_docs(self, seg: Segment, field: str = "content") -> BitMap:
        """Candidates for a segment: every one of its terms occurs (a superset).

        Kept per searcher: a query asks for it to order, filter, weigh (idf) and rank.
        """
        if not seg.terms:
            return self.live
        key = (seg, field)
        docs = self._candidates.get(key)
        if docs is None:
            docs = BitMap.intersection(*sorted((self.term_docs(field, t) for t in seg.terms), key=len))
            if len(self._candidates) >= self.MAX_TERM_SETS:
                self._candidates.pop(next(iter(self._candidates)))  # oldest first
            self._candidates[key] = docs
        return docs

    def hidden(self, now: datetime) -> BitMap:
        """Documents not in force at ``now``: effective > now or expires <= now.

        Only documents with a date are looked at (few), and their dates are
        read once per searcher, so this is a short Python loop per query.
        """
        if self._dated is None:
            docs = sorted(self.term_docs("dated", "1") & self.live)
            eff = self.reader.column_reader("effective") if docs else None
            exp = self.reader.column_reader("expires") if docs else None
            has_eff = set(self.searcher.docs_for_query(Every("effective"))) if docs else set()
            has_exp = set(self.searcher.docs_for_query(Every("expires"))) if docs else set()
            self._dated = [
                (d, _col_date(eff, d) if d in has_eff else None, _col_date(exp, d) if d in has_exp else None)
                for d in docs
            ]
        return BitMap(d for d, e, x in self._dated if (e is not None and e > now) or (x is not None and x <= now))

    def _all_terms(self, field: str) -> list[str]:
        if field not in self.reader.schema:
            return []
        return [t.decode("utf-8") if isinstance(t, bytes) else t for t in self.reader.lexicon(field)]

    def facet_sets(self, field: str) -> list[tuple[str, BitMap]]:
        """(value, docs) for every value of a facet field."""
        sets = self._facets.get(field)
        if sets is None:
            sets = self._facets[field] = [
                (v, self.term_docs(field, v)) for v in self._all_terms(field) if v
            ]
        return sets

    def facet_counts(self, field: str, docs: BitMap) -> list[tuple[str, int]]:
        counts = [(v, docs.intersection_cardinality(s)) for v, s in self.facet_sets(field)]
        return sorted(((v, n) for v, n in counts if n), key=lambda kv: (-kv[1], kv[0]))

    def published(self) -> list[int]:
        """Sortable publication time per global docnum; -1 (last when newest first) when missing.

        Whoosh fills a segment's column gaps with the column's default (2**64-1):
        that is "missing" too, so an undated item's place never depends on its segment.
        """
        if self._published is None:
            values: list[int] = []
            for leaf, _offset in self.reader.leaf_readers():
                segment = getattr(leaf, "_segment", None)
                key = (segment.segment_id() if segment is not None else "", "column", "published")
                part = self.cache.get(key) if segment is not None else None
                if part is None:
                    part = []
                    col = leaf.column_reader("published", translate=False) if leaf.has_column("published") else None
                    missing = self.ix.schema["published"].column_type.default_value()
                    for d in range(leaf.doc_count_all()):
                        try:
                            v = col[d] if col is not None else None
                        except IndexError:  # a column can be shorter than its segment
                            v = None
                        part.append(v if isinstance(v, int) and v != missing else -1)
                    if segment is not None:
                        self.cache.put(key, part)
                values.extend(part)
            self._published = values
        return self._published

    # -- matching and ranking

    def match(self, cands: BitMap, segs: list[Segment], extra: BitMap) -> BitMap:
        """The candidates that contain every segment exactly, plus ``extra``."""
        out = cands
        for seg in segs:
            if not seg.exact and out:
                out = self.phrase_docs(seg, out)
        return out | extra

    def phrase_docs(self, seg: Segment, within: BitMap) -> BitMap:
        """The documents of ``within`` that contain ``seg`` exactly.

        A segment's matches in a segment of the index never change, so they
        are cached per index segment like term sets -- computed for all its
        candidates when ``within`` holds most of them anyway, else only for
        ``within`` (a unit filter, a subtree: not worth checking the rest).
        """
        parts: list[BitMap] = []
        for leaf in self.leaves:
            mine = within & leaf.docs
            if not mine:
                continue
            off = leaf.offset
            key = (leaf.segment_id or "", "phrase", seg.needle.decode("utf-8"))
            local = self.cache.get(key) if leaf.segment_id else None
            if local is None:
                cands = self._local_candidates(leaf, seg)
                if leaf.segment_id is None or len(mine) * 4 < len(cands):
                    parts.append(_verify(leaf.content, mine, seg.needle, off))
                    continue
                local = self.cache.put(key, _verify(leaf.content, cands, seg.needle, 0))
            parts.append((local.shift(off) if off else local) & mine)
        return BitMap.union(*parts) if parts else BitMap()

    def _local_candidates(self, leaf: _Leaf, seg: Segment) -> BitMap:
        if not seg.terms:
            return BitMap(range(leaf.count))
        sets = sorted((self.cache.term_docs(leaf.reader, "content", t) for t in seg.terms), key=len)
        return BitMap.intersection(*sets)

    def rank(
        self, cands: BitMap, segs: list[Segment], numbers: BitMap, limit: int
    ) -> tuple[BitMap, list[tuple[float, int]]]:
        """Matches among ``cands`` (plus ``numbers``) and the top ``limit`` (score, docnum).

        BM25 with the exact phrase count of each segment in the document's
        canonical text as term frequency and that text's length as document
        length, plus :data:`TITLE_BONUS` per segment in the title and
        :data:`NUMBER_BOOST` for an exact 文号/索引号.

        A document without a segment in its title scores below
        ``sum(idf) * (K1 + 1)``; when the documents with one (few: their
        candidates come from the title's terms) fill the page above that
        bound, the others are only matched, not scored.
        """
        idf = [self._idf(s) for s in segs]
        titled = self._title_candidates(segs)
        if titled is not None:
            head = (cands & titled) | numbers
            matched, scored = self._score(head, segs, idf, numbers)
            top = heapq.nlargest(limit, scored)
            if len(top) >= limit and top[-1][0] >= sum(w * (K1 + 1) for w in idf):
                return matched | self.match(cands - head, segs, BitMap()), [(sc, -d) for sc, d in top]
        matched, scored = self._score(cands | numbers, segs, idf, numbers)
        return matched, [(sc, -d) for sc, d in heapq.nlargest(limit, scored)]

    def _title_candidates(self, segs: list[Segment]) -> BitMap | None:
        """Documents that may have a segment in the title (None: cannot tell)."""
        if any(not s.terms for s in segs):
            return None
        return BitMap.union(*(self.segment_docs(s, "title") for s in segs)) if segs else BitMap()

    def _score(
        self, docs: BitMap, segs: list[Segment], idf: list[float], numbers: BitMap
    ) -> tuple[BitMap, list[tuple[float, int]]]:
        needles = [s.needle for s in segs]
        avg = self.avg_length
        matched: list[int] = []
        scored: list[tuple[float, int]] = []  # (score, -docnum): ties go to the lower docnum
        for leaf in self.leaves:
            buf, starts, ends = leaf.content.buf, leaf.content.starts, leaf.content.ends
            tbuf, tstarts, tends = leaf.title.buf, leaf.title.starts, leaf.title.ends
            off = leaf.offset
            for d in docs & leaf.docs:
                i = d - off
                s, e = starts[i], ends[i]
                text = buf[s:e]
                score = 0.0
                norm = K1 * (1 - B + B * (e - s) / avg)
                for needle, w in zip(needles, idf):
                    tf = text.count(needle)
                    if not tf:
                        break
                    score += w * tf * (K1 + 1) / (tf + norm)
                else:
                    title = tbuf[tstarts[i] : tends[i]]
                    score += TITLE_BONUS * sum(1 for n in needles if n in title)
                    if d in numbers:
                        score += NUMBER_BOOST
                    matched.append(d)
                    scored.append((score, -d))
                    continue
                if d in numbers:  # the number matched, the text did not
                    matched.append(d)
                    scored.append((NUMBER_BOOST, -d))
        return BitMap(matched), scored

    def _idf(self, seg: Segment) -> float:
        df = len(self.segment_docs(seg))  # candidates: a close upper bound
        n = max(self.doc_count, df)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def newest(self, docs: BitMap, limit: int) -> list[int]:
        """The ``limit`` most recently published of ``docs`` (ties: lower docnum)."""
        if len(docs) * 50 < self.doc_count:  # few: sort them
            pub = self.published()
            return heapq.nsmallest(limit, docs, key=lambda d: (-pub[d], d))
        return list(itertools.islice((d for d in self._by_date() if d in docs), limit))

    def _by_date(self) -> list[int]:
        if self._order is None:
            pub = self.published()
            self._order = sorted(range(len(pub)), key=lambda d: (-pub[d], d))
        return self._order


def _verify(column: _Column, docs: BitMap, needle: bytes, offset: int) -> BitMap:
    """The docnums of ``docs`` whose text (``docnum - offset`` in ``column``) holds ``needle``."""
    find, starts, ends = column.buf.find, column.starts, column.ends
    return BitMap([d for d in docs if find(needle, starts[d - offset], ends[d - offset]) >= 0])


def _posting_set(m: Any) -> BitMap:
    """All document ids of a posting list, a block at a time where possible."""
    if isinstance(m, FilterMatcher):  # deletions are handled by Reader.live
        m = m.child
    if not isinstance(m, W3LeafMatcher):
        return BitMap(m.all_ids())
    docs = BitMap()
    while m.is_active():
        if m._data is None:
            m._read_data()
        ids = m._data[0]  # as whoosh3's _read_ids, without its Python delta loop
        docs.update(ids if m._byteids else itertools.accumulate(ids))
        if m._lastblock:
            break
        m._next_block()
    return docs


def _col_date(col: Any, docnum: int) -> datetime:
    value = col[docnum]
    return value if isinstance(value, datetime) else long_to_datetime(value)
