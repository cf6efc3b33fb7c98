"""The engine-neutral search API: documents in as dicts, queries and results out.

The CMS feeds documents (plain dicts, see :data:`DOC_FIELDS`) from its content
tree through an outbox; the web layer builds :class:`SearchQuery` objects from
request parameters.  Neither knows which engine sits behind
:class:`SearchBackend`, so the engine can be swapped (Whoosh today, maybe
PostgreSQL or a search server later) without touching them.

Time convention: all datetimes are compared as *naive China Standard Time*
(the portal's local time, UTC+8 with no DST).  Aware datetimes are converted
to it; naive ones are taken as they are.
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator, Literal, Mapping, Sequence

log = logging.getLogger(__name__)

#: The portal's clock: China Standard Time (no DST, so a fixed offset is exact).
CST = timezone(timedelta(hours=8), "Asia/Shanghai")

EVERYONE = "system.Everyone"

#: Fields with facet counts and facet filters (single-valued strings).
FACET_FIELDS: tuple[str, ...] = ("unit", "type", "subject", "year")
#: Fields accepted in ``SearchQuery.filters`` (OR within a field, AND across).
FILTER_FIELDS: tuple[str, ...] = FACET_FIELDS + ("genre", "state")
#: Text that full-text queries match (each with a boundary between them).
SEARCHABLE_FIELDS: tuple[str, ...] = (
    "title",
    "description",
    "keywords",
    "doc_number",
    "index_number",
    "text",
)
DATE_FIELDS: tuple[str, ...] = ("published", "modified", "effective", "expires")
#: Catalogue fields a content type's own index function (``TypeInfo.index``) may fill.
INDEX_FIELDS: tuple[str, ...] = ("subject", "genre", "doc_number", "index_number", "keywords")
#: Every field of an input document.
DOC_FIELDS: tuple[str, ...] = (
    "id", "path", "title", "text", "description", "unit", "unit_title", "type",
    "subject", "genre", "doc_number", "index_number", "published", "modified",
    "effective", "expires", "state", "allowed", "year", "keywords",
)  # fmt: skip

#: Called with the number of documents indexed since the last call
#: (``tqdm(...).update`` fits).
Progress = Callable[[int], Any]


@dataclass(frozen=True)
class SearchQuery:
    """What a visitor asked for.  Every field is safe to take from a request.

    Visibility: a document is found only if its ``allowed`` holds one of
    ``principals``; if the only such principal is ``system.Everyone``, it
    must also be in force: ``effective <= now < expires`` (None: open-ended).
    Staff who may view it through another principal find it whatever its dates.
    """

    text: str = ""
    principals: Sequence[str] = (EVERYONE,)
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    path_prefix: str | None = None
    sort: Literal["relevance", "date"] = "relevance"
    page: int = 1
    page_size: int = 10
    facets: Sequence[str] = ()
    now: datetime | None = None


@dataclass
class Hit:
    id: str
    score: float | None
    #: Every stored document field except ``text`` and ``allowed``.
    fields: dict[str, Any]
    #: ``title`` and ``text`` as HTML: escaped, hits wrapped in ``<mark>``.
    highlights: dict[str, str]


@dataclass
class SearchResults:
    total: int
    hits: list[Hit]
    #: facet name → [(value, count)], most frequent first.
    facets: dict[str, list[tuple[str, int]]]
    #: What to tell the visitor (e.g. "enter something to search for"): translation
    #: strings of the ``portal`` domain, which the views translate.
    messages: tuple[str, ...] = ()


class SearchBackend(abc.ABC):
    """A full-text index of portal documents.

    Writers: one at a time (implementations lock); ``index``/``unindex`` are
    idempotent so an outbox can simply retry them.  Readers never block and
    never see a half-built index.
    """

    @abc.abstractmethod
    def index(self, docs: Iterable[Mapping[str, Any]]) -> int:
        """Add documents, replacing any with the same ``id``; returns the count."""

    @abc.abstractmethod
    def unindex(self, ids: Iterable[str]) -> None:
        """Remove documents by id (unknown ids are ignored)."""

    @abc.abstractmethod
    def query(self, q: SearchQuery) -> SearchResults:
        """Run a visitor query; never raises for any ``q.text``."""

    @abc.abstractmethod
    def clear(self) -> None:
        """Empty the index (atomically, like :meth:`rebuild` with no documents)."""

    @abc.abstractmethod
    def rebuild(self, docs: Iterable[Mapping[str, Any]], progress: Progress | None = None) -> int:
        """Build a fresh index from ``docs`` beside the live one and swap it in.

        Searches keep running on the old index during the build; after the
        swap new searches see the new one.  Returns the number of documents.
        """

    @property
    def needs_rebuild(self) -> bool:
        """True when the index lost its documents (an index format upgrade) and
        must be rebuilt from the database."""
        return False

    def documents(self) -> Iterator[dict[str, Any]]:
        """Every indexed document as :func:`prepare_document` made it, ``text`` and ``allowed``
        included, in no particular order: what `portal check-index` compares with the database."""
        raise NotImplementedError(f"{type(self).__name__} cannot list its documents")

    def close(self) -> None:  # pragma: no cover - optional
        """Release open files."""


def to_local_naive(value: datetime | date | None) -> datetime | None:
    """Datetimes in the backend's convention (naive CST); dates become midnight."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day)
        raise TypeError(f"expected datetime, got {type(value).__name__}")
    if value.tzinfo is not None:
        value = value.astimezone(CST).replace(tzinfo=None)
    return value


def now_local() -> datetime:
    return datetime.now(CST).replace(tzinfo=None)


def prepare_document(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise one input document.

    Why strict here: the outbox will feed whatever the content tree holds; a
    bad value should fail loudly for that one document, not corrupt the index.
    Missing ``allowed`` means *nobody* may see the document (fail closed).
    """
    unknown = set(doc) - set(DOC_FIELDS)
    if unknown:
        raise ValueError(f"unknown document fields: {sorted(unknown)}")
    doc_id = doc.get("id")
    if not isinstance(doc_id, str) or not doc_id:
        raise ValueError("document id must be a non-empty string")
    out: dict[str, Any] = {"id": doc_id}
    for name in DOC_FIELDS:
        value = doc.get(name)
        if name == "id" or value is None:
            continue
        if name in DATE_FIELDS:
            out[name] = to_local_naive(value)
        elif name in ("allowed", "keywords"):
            if isinstance(value, str):
                value = [value]
            out[name] = [str(v) for v in value if v is not None and str(v) != ""]
        elif name == "year":
            out[name] = str(value)
        else:
            if not isinstance(value, str):
                raise ValueError(f"document field {name!r} must be a string")
            out[name] = value
    if "year" not in out and out.get("published") is not None:
        out["year"] = str(out["published"].year)
    out.setdefault("allowed", [])
    return out
