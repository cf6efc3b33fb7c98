"""One thread's view of an index generation: its segments' readers and document sets.

Why not Whoosh's matchers and collectors: they spend ~25 µs of Python per
matching document (skip_to/next on every term, position decoding, per-term
scoring, collector bookkeeping), and a common query on a county portal
matches tens of thousands of documents, all of which must be counted and
faceted.  Here every set operation -- visibility (principals, effective
window), facet filters, subtree, the conjunction of a query's terms, facet
counts -- is a compressed-bitmap operation in C (pyroaring ``BitMap``) over
term document sets read from Whoosh's postings.  The conjunction yields
*candidates* (:meth:`Reader.segment_docs`), which :mod:`search.whoosh_ranking`
matches exactly and ranks; :mod:`search.whoosh_query` puts a query together.

What a :class:`Reader` reads is cached twice: per index segment
(:class:`~search.whoosh_segment_cache.SegmentCache`, surviving the outbox
writer's commits) and per searcher (here, until the next commit).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pyroaring import BitMap
from whoosh import index
from whoosh.util.times import long_to_datetime

from search.analysis import canonical_segment, is_cjk, query_tokens
from search.whoosh_schema import CONTENT_COLUMN, TITLE_COLUMN
from search.whoosh_segment_cache import SegmentCache, TextColumn

__all__ = ["CONTENT_COLUMN", "TITLE_COLUMN", "Leaf", "Reader", "Segment", "SegmentCache"]


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


@dataclass
class Leaf:
    """One index segment of a searcher, and where its documents sit in global docnums."""

    reader: Any  # whoosh SegmentReader (or EmptyReader)
    segment_id: str | None
    offset: int
    count: int
    docs: BitMap  # the leaf's global docnum range
    content: TextColumn
    title: TextColumn


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
        self.leaves: list[Leaf] = []
        live = BitMap()
        for leaf, offset in self.reader.leaf_readers():
            n = leaf.doc_count_all()
            docs = BitMap(range(offset, offset + n))
            segment = getattr(leaf, "_segment", None)
            self.leaves.append(Leaf(
                leaf, segment.segment_id() if segment is not None else None, offset, n, docs,
                TextColumn(leaf, CONTENT_COLUMN, schema[CONTENT_COLUMN].column_type, self.cache),
                TextColumn(leaf, TITLE_COLUMN, schema[TITLE_COLUMN].column_type, self.cache),
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

        Only documents with a date are looked at (few); their dates are read once per index
        segment (:meth:`_dated_in`, kept in the segment cache), so after a commit a searcher
        reads only the new segment's, and this is a short Python loop per query.
        """
        if self._dated is None:
            dated: list[tuple[int, datetime | None, datetime | None]] = []
            for leaf in self.leaves:
                part = self.cache.get((leaf.segment_id, "dated", "")) if leaf.segment_id else None
                if part is None:
                    part = self._dated_in(leaf)
                    if leaf.segment_id:
                        self.cache.put((leaf.segment_id, "dated", ""), part)
                dated += [(leaf.offset + d, e, x) for d, e, x in part if leaf.offset + d in self.live]
            self._dated = dated
        return BitMap(d for d, e, x in self._dated if (e is not None and e > now) or (x is not None and x <= now))

    def _dated_in(self, leaf: Leaf) -> list[tuple[int, datetime | None, datetime | None]]:
        """(local docnum, effective, expires) of a segment's documents with a date. A column
        answers its default for a document without a value: that is "none" (not a query of
        every term of the field, which a DATETIME indexes at several precisions per value)."""
        docs = self.cache.term_docs(leaf.reader, "dated", "1") if leaf.segment_id else BitMap()
        if not docs:
            return []
        columns = []
        for name in ("effective", "expires"):
            if leaf.reader.has_column(name):
                missing = self.ix.schema[name].column_type.default_value()
                columns.append((leaf.reader.column_reader(name, translate=False), missing))
            else:
                columns.append((None, None))

        def value(column: Any, missing: Any, docnum: int) -> datetime | None:
            if column is None:
                return None
            try:
                raw = column[docnum]
            except IndexError:  # a column can be shorter than its segment
                return None
            return None if raw is None or raw == missing else long_to_datetime(raw)

        (eff, eff_missing), (exp, exp_missing) = columns
        return [(d, value(eff, eff_missing, d), value(exp, exp_missing, d)) for d in docs]

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

    # -- date order

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

