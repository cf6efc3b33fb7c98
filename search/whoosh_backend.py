"""The Whoosh implementation of :class:`search.backend.SearchBackend`: writing, and the entry point.

:class:`WhooshBackend` writes documents (outbox batches, rebuilds) and hands
queries on; the rest of the engine is in modules of their own, each holding
one concern:

* :mod:`search.whoosh_schema` -- field types, the schema, documents as fields;
* :mod:`search.whoosh_generations` -- generation directories, the swap, the write lock;
* :mod:`search.whoosh_query` -- one query from request to results;
* :mod:`search.whoosh_reader` -- a thread's searcher and its document sets;
* :mod:`search.whoosh_segment_cache` -- what is kept per index segment;
* :mod:`search.whoosh_ranking` -- exact matching and BM25 ranking;
* :mod:`search.whoosh_speedups` (with :mod:`search.whoosh_posting_pool`) --
  process-wide patches of whoosh3, installed by :class:`WhooshBackend`.

whoosh3 3.54 defects worked around (each has a regression test): bulk
indexing pickles and merges every posting on its own, looks up field lengths
per posting, and ``BufferFile`` copies the whole mmapped segment -- see
:mod:`search.whoosh_speedups`; ``Searcher.refresh()`` reuses segment readers
with stale deletions (hence :meth:`Reader.refresh` reopens); MpWriter can
lose a sub-writer silently (hence the count check after a rebuild).  The
matcher-level defects met before (``AndNot`` letting its first document
through, the top-N collector miscounting totals, ``FilterCollector``
ignoring an empty allow-set, slow ``Phrase``) no longer apply: the query
path does not use those classes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from whoosh import index

from search import whoosh_speedups
from search.backend import Progress, SearchBackend, SearchQuery, SearchResults, prepare_document
from search.whoosh_generations import Generations, IndexBusy
from search.whoosh_query import evaluate
from search.whoosh_reader import Reader
from search.whoosh_schema import make_schema, whoosh_fields
from search.whoosh_segment_cache import SegmentCache
from search.whoosh_speedups import codec

__all__ = ["IndexBusy", "WhooshBackend"]

log = logging.getLogger(__name__)


def _prepare(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """A valid document, or None (logged): one bad document must not block an
    outbox forever or abort a whole rebuild."""
    try:
        return prepare_document(doc)
    except (ValueError, TypeError):
        doc_id = doc.get("id") if isinstance(doc, Mapping) else None
        log.exception("search: skipping invalid document %r", doc_id)
        return None


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
        whoosh_speedups.install()  # before any writer: MpWriter's forked sub-writers inherit them
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.procs = procs
        self.limitmb = limitmb
        self.writer_timeout = writer_timeout
        self.schema = make_schema()
        self._gens = Generations(self.path)
        self._local = threading.local()
        self._cache: tuple[str, SegmentCache] = ("", SegmentCache())
        self._gens.ensure_live(self.schema, writer_timeout)

    @property
    def needs_rebuild(self) -> bool:
        return self._gens.needs_rebuild

    # -- reading

    def _reader(self) -> Reader:
        """This thread's searcher on the live generation (refreshed if stale)."""
        for _attempt in range(5):
            gen = self._gens.live()
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
                r = Reader(gen, self._gens.open(gen), self._cache[1])
                self._local.reader = r
                return r
            except (OSError, index.EmptyIndexError):
                # the generation was swapped out under us: read CURRENT again
                self._gens.forget_live()
                self._local.reader = None
                time.sleep(0.01)
        raise RuntimeError(f"cannot open search index at {self.path}")

    def query(self, q: SearchQuery) -> SearchResults:
        return evaluate(q, self._reader)

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
        with self._gens.lock(self.writer_timeout):
            writer = self._gens.open_live().writer(limitmb=self.limitmb, codec=codec())
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
        with self._gens.lock(self.writer_timeout):
            writer = self._gens.open_live().writer(codec=codec())
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
        with self._gens.lock(self.writer_timeout):
            gen, count = self._build(docs, progress)
            self._gens.swap_in(gen, complete=True)
        return count

    def _build(self, docs: Iterable[Mapping[str, Any]], progress: Progress | None) -> tuple[str, int]:
        """Write a new generation directory; the live index is untouched."""
        with self._gens.create(self.schema) as (gen, ix):
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

    # -- misc

    def documents(self) -> Iterator[dict[str, Any]]:
        """Every document of the live generation as it went in: the stored fields, the text, and
        ``allowed`` read back from its postings (it is not stored: one pass over that field's
        postings inverts it, a few principals per document)."""
        ix = self._gens.open_live()
        try:
            with ix.reader() as reader:
                allowed: dict[int, list[str]] = defaultdict(list)
                for term in reader.lexicon("allowed"):
                    principal = term.decode("utf-8") if isinstance(term, bytes) else term
                    for docnum in reader.postings("allowed", term).all_ids():
                        allowed[docnum].append(principal)
                for docnum, stored in reader.iter_docs():
                    yield {**stored["doc"], "text": stored.get("body", ""), "allowed": allowed.get(docnum, [])}
        finally:
            ix.close()

    def doc_count(self) -> int:
        return self._reader().searcher.doc_count()

    def index_size(self) -> int:
        """Bytes on disk of the live generation."""
        return self._gens.live_size()

    def close(self) -> None:
        r = getattr(self._local, "reader", None)
        if r is not None:
            r.close()
            self._local.reader = None
