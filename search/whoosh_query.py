"""One query, start to finish: visibility, candidates, matching or ranking, the page, hits and facets.

The order of work: the visibility and facet conditions become one document
set (:func:`_filter_terms`, evaluated by the :class:`Reader`); the query's
segments narrow it to candidates, smallest set first; then
:mod:`search.whoosh_ranking` matches them exactly and, for relevance order,
scores only what can reach the page.  Hits are read from stored fields for
the page only.

The effective/expires window applies to what is visible through
``system.Everyone`` only: a visitor who may view a document through another
principal (its editor, a reviewer) finds it whatever its dates, as the
portal's security policy lets them view it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from pyroaring import BitMap

from search.backend import (
    EVERYONE,
    FACET_FIELDS,
    FILTER_FIELDS,
    Hit,
    SearchQuery,
    SearchResults,
    now_local,
    to_local_naive,
)
from search.highlight import highlight_whole, snippet
from search.query import MSG_EMPTY, ParsedQuery, parse
from search.whoosh_ranking import match, rank
from search.whoosh_reader import Reader, Segment
from search.whoosh_schema import normalize_prefix

MAX_PAGE_SIZE = 100
MAX_PAGE = 1000


def evaluate(q: SearchQuery, open_reader: Callable[[], Reader]) -> SearchResults:
    """The answer to ``q``; ``open_reader`` is called only when the index must be read."""
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

    reader = open_reader()
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
            matches = match(reader, cands, segs, numbers)
        else:
            matches, top = rank(reader, cands, segs, numbers, limit)
            scores = dict((d, score) for score, d in top)
    total = len(matches)
    order = reader.newest(matches, limit) if by_date else list(scores)
    hits = [
        _hit(reader, d, None if by_date else scores[d], parsed)
        for d in order[(page - 1) * size : page * size]
    ]
    facets = {name: reader.facet_counts(name, matches) for name in facet_names}
    return SearchResults(total, hits, facets, messages)


def _filter_terms(q: SearchQuery) -> list[list[tuple[str, str]]] | None:
    """The visibility and facet conditions as CNF: AND of ORs of (field, term).

    ``None`` when nothing can match (no principals at all).  The first clause
    is always the principals (the effective window needs it).
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


def _hit(reader: Reader, docnum: int, score: float | None, parsed: ParsedQuery) -> Hit:
    stored = reader.searcher.stored_fields(docnum)
    doc = dict(stored.get("doc") or {})
    segs = parsed.segments
    highlights = {
        "title": highlight_whole(doc.get("title", ""), segs),
        "text": snippet(stored.get("body") or doc.get("description", ""), segs),
    }
    return Hit(doc.get("id", stored.get("id")), score, doc, highlights)
