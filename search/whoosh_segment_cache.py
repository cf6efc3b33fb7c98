"""What is read once per *index segment* and kept: term document sets and text-column bounds.

Why per segment: a Whoosh segment never changes once written.  A commit
(every outbox drain) reopens the searcher, but it only adds a small segment
and marks deletions; the big segments' postings and columns are unchanged,
so what was read from them stays valid and the first query after an edit
does not start cold.  Deleted documents are removed by each reader
(:attr:`search.whoosh_reader.Reader.live`), not here.
"""

from __future__ import annotations

import contextlib
import itertools
import mmap
import os
from typing import Any

from pyroaring import BitMap
from whoosh import columns
from whoosh.codec.whoosh3 import W3Codec, W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher


class SegmentCache:
    """Values per index segment, shared by all readers of an index generation.

    Keyed ``(segment id, field or kind, text)``: term document sets, phrase
    matches (:func:`search.whoosh_ranking.phrase_docs`), text-column bounds
    and publication times.
    Thread-safe enough: values are never mutated, and a race only builds one twice.
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


class TextColumn:
    """A segment's VarBytes column as (buffer, start, end) without copying.

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
