"""Which candidates contain a query exactly, and their relevance order (BM25 on phrase counts).

A query segment's candidates (:meth:`Reader.segment_docs`: documents holding
all its index terms) are matched exactly by a C substring search in each
candidate's canonical text (see :func:`search.analysis.canonical`; a Whoosh
column read straight from the memory-mapped segment) -- equivalent to a
phrase query over consecutive bigrams.  A segment of one term (``电子``,
``2011``) needs no check: its term's documents are its matches.

Ranking is BM25 on exact phrase counts (``bytes.count``), computed only for
the documents that can reach the requested page (see :func:`rank`).  The
per-document Python work left is about 1 µs per candidate the first time a
long phrase is searched; phrase matches are then cached per index segment.
"""

from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING

from pyroaring import BitMap

if TYPE_CHECKING:
    from search.whoosh_reader import Leaf, Reader, Segment
    from search.whoosh_segment_cache import TextColumn

K1, B = 1.2, 0.75  # BM25 parameters (the usual ones)
TITLE_BONUS = 10.0  # per query segment found in the title (BM25 scores here are ~1-15)
NUMBER_BOOST = 1_000_000.0  # an exact 文号/索引号 always ranks first


def match(reader: Reader, cands: BitMap, segs: list[Segment], extra: BitMap) -> BitMap:
    """The candidates that contain every segment exactly, plus ``extra``."""
    out = cands
    for seg in segs:
        if not seg.exact and out:
            out = phrase_docs(reader, seg, out)
    return out | extra


def phrase_docs(reader: Reader, seg: Segment, within: BitMap) -> BitMap:
    """The documents of ``within`` that contain ``seg`` exactly.

    A segment's matches in a segment of the index never change, so they
    are cached per index segment like term sets -- computed for all its
    candidates when ``within`` holds most of them anyway, else only for
    ``within`` (a unit filter, a subtree: not worth checking the rest).
    """
    parts: list[BitMap] = []
    for leaf in reader.leaves:
        mine = within & leaf.docs
        if not mine:
            continue
        off = leaf.offset
        key = (leaf.segment_id or "", "phrase", seg.needle.decode("utf-8"))
        local = reader.cache.get(key) if leaf.segment_id else None
        if local is None:
            cands = _local_candidates(reader, leaf, seg)
            if leaf.segment_id is None or len(mine) * 4 < len(cands):
                parts.append(_verify(leaf.content, mine, seg.needle, off))
                continue
            local = reader.cache.put(key, _verify(leaf.content, cands, seg.needle, 0))
        parts.append((local.shift(off) if off else local) & mine)
    return BitMap.union(*parts) if parts else BitMap()


def _local_candidates(reader: Reader, leaf: Leaf, seg: Segment) -> BitMap:
    if not seg.terms:
        return BitMap(range(leaf.count))
    sets = sorted((reader.cache.term_docs(leaf.reader, "content", t) for t in seg.terms), key=len)
    return BitMap.intersection(*sets)


def _verify(column: TextColumn, docs: BitMap, needle: bytes, offset: int) -> BitMap:
    """The docnums of ``docs`` whose text (``docnum - offset`` in ``column``) holds ``needle``."""
    find, starts, ends = column.buf.find, column.starts, column.ends
    return BitMap([d for d in docs if find(needle, starts[d - offset], ends[d - offset]) >= 0])


def rank(
    reader: Reader, cands: BitMap, segs: list[Segment], numbers: BitMap, limit: int
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
    idf = [_idf(reader, s) for s in segs]
    titled = _title_candidates(reader, segs)
    if titled is not None:
        head = (cands & titled) | numbers
        matched, scored = _score(reader, head, segs, idf, numbers)
        top = heapq.nlargest(limit, scored)
        if len(top) >= limit and top[-1][0] >= sum(w * (K1 + 1) for w in idf):
            return matched | match(reader, cands - head, segs, BitMap()), [(sc, -d) for sc, d in top]
    matched, scored = _score(reader, cands | numbers, segs, idf, numbers)
    return matched, [(sc, -d) for sc, d in heapq.nlargest(limit, scored)]


def _title_candidates(reader: Reader, segs: list[Segment]) -> BitMap | None:
    """Documents that may have a segment in the title (None: cannot tell)."""
    if any(not s.terms for s in segs):
        return None
    return BitMap.union(*(reader.segment_docs(s, "title") for s in segs)) if segs else BitMap()


def _score(
    reader: Reader, docs: BitMap, segs: list[Segment], idf: list[float], numbers: BitMap
) -> tuple[BitMap, list[tuple[float, int]]]:
    needles = [s.needle for s in segs]
    avg = reader.avg_length
    matched: list[int] = []
    scored: list[tuple[float, int]] = []  # (score, -docnum): ties go to the lower docnum
    for leaf in reader.leaves:
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


def _idf(reader: Reader, seg: Segment) -> float:
    df = len(reader.segment_docs(seg))  # candidates: a close upper bound
    n = max(reader.doc_count, df)
    return math.log(1 + (n - df + 0.5) / (df + 0.5))
