"""A compact posting pool for bulk indexing (whoosh3 3.54's ``PostingPool``, grouped by term).

Why its own module: it is the largest of the speed-ups and the only one with
its own data layout (:class:`_Group`).  :mod:`search.whoosh_speedups`
installs it as ``whoosh.writing.PostingPool``; :func:`freq_bytes` is also
what :mod:`search.whoosh_schema`'s text fields hand to Whoosh, so the pool
can recognise their postings by identity.  ``tests/unit/search/
test_whoosh_internals.py`` checks that the pool yields Whoosh's stream.
"""

from __future__ import annotations

import heapq
import itertools
import marshal
from array import array
from typing import Any, Iterable, Iterator

from whoosh import writing
from whoosh.system import pack_uint



_FREQ_BYTES: dict[int, bytes] = {}  # n -> pack_uint(n), one shared object per n
_FREQ_OF: dict[int, int] = {}  # id(shared object) -> n (the objects live as long as the process)


def freq_bytes(n: int) -> bytes:
    """``pack_uint(n)`` (a Frequency posting's value) as one shared object per ``n``, so the
    posting pool can recognise it by identity and keep only the number."""
    value = _FREQ_BYTES.get(n)
    if value is None:
        value = _FREQ_BYTES[n] = pack_uint(n)
        _FREQ_OF[id(value)] = n
    return value


EXIST, FREQ, GENERIC = 0, 1, 2


class _Group:
    """One term's postings in arrival (docnum) order, as compact as they allow.

    ``EXIST``: every posting is (weight 1.0, value b"") -- keep docnums only (ID fields);
    ``FREQ``: every value is :func:`freq_bytes` of its weight -- keep docnums and counts
    (text fields); otherwise ``GENERIC`` lists of weights and values.  4-8 bytes per posting
    instead of a ~170-byte tuple, so a bulk build rarely spills to disk.
    """

    __slots__ = ("kind", "docs", "freqs", "weights", "values")

    def __init__(self) -> None:
        self.kind: int | None = None
        self.docs = array("I")
        self.freqs: Any = None
        self.weights: list[Any] | None = None
        self.values: list[Any] | None = None

    def add(self, docnum: int, weight: Any, value: Any) -> int:
        """Add one posting; returns the bytes it took."""
        kind = self.kind
        if kind == FREQ or kind is None:
            n = _FREQ_OF.get(id(value))
            if n is not None and weight == n:
                if kind is None:
                    self.kind, self.freqs = FREQ, array("I")
                self.docs.append(docnum)
                self.freqs.append(n)
                return 8
        if (kind == EXIST or kind is None) and value == b"" and weight == 1.0:
            self.kind = EXIST
            self.docs.append(docnum)
            return 4
        if kind != GENERIC:
            self._generic()
        assert self.weights is not None and self.values is not None
        self.docs.append(docnum)
        self.weights.append(weight)
        self.values.append(value)
        return 100 + (len(value) if value else 0)

    def _generic(self) -> None:
        weights, values = _expand(self.kind, len(self.docs), self.freqs)
        self.kind, self.weights, self.values, self.freqs = GENERIC, weights, values, None

    def parts(self, size: int) -> Iterator[tuple[int, bytes, Any]]:
        """(kind, docnums, extra) slices of at most ``size`` postings, marshal-able."""
        for i in range(0, len(self.docs), size):
            docs = self.docs[i : i + size].tobytes()
            if self.kind == FREQ:
                yield FREQ, docs, self.freqs[i : i + size].tobytes()
            elif self.kind == GENERIC:
                assert self.weights is not None and self.values is not None
                yield GENERIC, docs, (self.weights[i : i + size], self.values[i : i + size])
            else:
                yield EXIST, docs, None


def _expand(kind: int | None, count: int, freqs: Any) -> tuple[list[Any], list[Any]]:
    """(weights, values) of ``count`` postings of a compact kind."""
    if kind == FREQ:
        return [float(n) for n in freqs], [freq_bytes(n) for n in freqs]
    return [1.0] * count, [b""] * count


def _postings(kind: int, docs: bytes, extra: Any) -> Iterator[tuple[int, Any, Any]]:
    ids = array("I")
    ids.frombytes(docs)
    if kind == GENERIC:
        yield from zip(ids, extra[0], extra[1])
    elif kind == FREQ:
        counts = array("I")
        counts.frombytes(extra)
        for d, n in zip(ids, counts):
            yield d, float(n), freq_bytes(n)
    else:
        for d in ids:
            yield d, 1.0, b""


class _GroupingPostingPool(writing.PostingPool):
    """Whoosh's posting pool, grouping postings by term as they arrive.

    Why: Whoosh keeps every posting as a (field, term, doc, weight, value)
    tuple, sorts them all, pickles them one by one to temp files when
    ``limitmb`` overflows and merges the files posting by posting in Python;
    for ~350 postings per document that was over half of bulk-indexing time.
    Documents arrive in docnum order, so grouping by (field, term) leaves
    only the distinct terms to sort; a group is kept compact (:class:`_Group`);
    spilled runs are ``marshal``-ed groups and merge by term, not by posting.
    The output (``items()``) is the same sorted stream of posting tuples
    Whoosh's writers consume.
    """

    RECORD = 20_000  # postings per marshal record: bounds memory when merging runs

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._groups: dict[tuple[str, bytes], _Group] = {}

    def add(self, item: tuple[str, bytes, int, Any, Any]) -> None:
        fieldname, text, docnum, weight, value = item
        key = (fieldname, text)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group()
            self.fieldnames.add(fieldname)
            self.currentsize += 400 + len(text)  # key tuple, dict slot, group, arrays
        self.currentsize += group.add(docnum, weight, value)
        if self.currentsize > self.limit:
            self.save()

    def _sorted_parts(self, size: int) -> Iterator[tuple[tuple[str, bytes], int, bytes, Any]]:
        for key, group in sorted(self._groups.items(), key=lambda kv: kv[0]):
            for kind, docs, extra in group.parts(size):
                yield key, kind, docs, extra

    def save(self) -> None:
        if self._groups:
            path, f = self._new_run()
            record: list[tuple[Any, int, bytes, Any]] = []
            size = 0
            for key, kind, docs, extra in self._sorted_parts(self.RECORD):
                record.append((key, kind, docs, extra))
                size += len(docs) // 4
                if size >= self.RECORD:
                    marshal.dump(record, f)
                    record, size = [], 0
            if record:
                marshal.dump(record, f)
            f.close()
            self._add_run(path)
            self._groups = {}
        self.currentsize = 0

    def _read_groups(self, path: str, order: int) -> Iterator[tuple[Any, int, int, int, bytes, Any]]:
        """(key, run order, sequence, kind, docs, extra); a big group may span records."""
        f = self._open_run(path)
        seq = 0
        try:
            while True:
                try:
                    record = marshal.load(f)
                except EOFError:
                    return
                for key, kind, docs, extra in record:
                    yield key, order, seq, kind, docs, extra
                    seq += 1
        finally:
            f.close()
            self._remove_run(path)

    def items(self, maxfiles: int = 128) -> Iterator[tuple[str, bytes, int, Any, Any]]:
        if not self.runs:
            merged: Iterable[tuple[Any, int, int, int, bytes, Any]] = (
                (key, 0, 0, kind, docs, extra) for key, kind, docs, extra in self._sorted_parts(2**31)
            )
        else:
            self.save()
            runs, self.runs = self.runs, []
            # runs hold increasing docnum ranges, so equal terms concatenate in
            # (run, sequence) order; the tuple never compares past the sequence
            merged = heapq.merge(*(self._read_groups(p, i) for i, p in enumerate(runs)), key=lambda g: g[:3])
        for (fieldname, text), _, _, kind, docs, extra in merged:
            for docnum, weight, value in _postings(kind, docs, extra):
                yield fieldname, text, docnum, weight, value
        self._groups = {}

    # Whoosh's generic run API (used by MpWriter without ``multisegment``)

    def _write_run(self, f: Any, items: Iterable[Any]) -> None:
        for key, postings in itertools.groupby(items, key=lambda it: (it[0], it[1])):
            group = _Group()
            for _, _, d, w, v in postings:
                group.add(d, w, v)
            marshal.dump([(key, kind, docs, extra) for kind, docs, extra in group.parts(2**31)], f)
        f.close()

    def _read_run(self, path: str) -> Iterator[Any]:
        for (fieldname, text), _, _, kind, docs, extra in self._read_groups(path, 0):
            for docnum, weight, value in _postings(kind, docs, extra):
                yield fieldname, text, docnum, weight, value
