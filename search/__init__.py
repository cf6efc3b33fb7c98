"""Full-text search for the portal: government disclosures, news and pages.

The engine layer is independent of the database: the CMS hands documents in
as plain dicts (see :data:`search.backend.DOC_FIELDS`), typically from an
outbox fed by content events, and the web layer asks :class:`SearchQuery`
questions.  :class:`WhooshBackend` is the current engine; Chinese text is
analysed into character bigrams so that every query finds exactly the
documents that contain it (see :mod:`search.analysis`).
"""

from search.backend import (
    EVERYONE,
    FACET_FIELDS,
    FILTER_FIELDS,
    Hit,
    SearchBackend,
    SearchQuery,
    SearchResults,
)
from search.query import ParsedQuery, parse
from search.whoosh_backend import IndexBusy, WhooshBackend

__all__ = [
    "EVERYONE",
    "FACET_FIELDS",
    "FILTER_FIELDS",
    "Hit",
    "IndexBusy",
    "ParsedQuery",
    "SearchBackend",
    "SearchQuery",
    "SearchResults",
    "WhooshBackend",
    "parse",
]
