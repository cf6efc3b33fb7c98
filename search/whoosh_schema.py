"""What a Whoosh index generation holds: field types, the schema, and documents as fields.

Why custom fields instead of a Whoosh analyzer: the bigram stream of
:mod:`search.analysis` is produced in one regex pass and handed to Whoosh as
ready (term, frequency) postings, skipping per-token objects; bulk indexing
is dominated by that path.  No positions are stored: exact (phrase) matching
checks each candidate's canonical text, kept in a column (``canon``).

Changing the schema, its columns or the codec changes what a generation
holds: bump :data:`FORMAT` (see :mod:`search.whoosh_generations`).
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from whoosh import columns, fields, formats

from search.analysis import canonical, number_key, token_counts
from search.backend import FILTER_FIELDS, SEARCHABLE_FIELDS
from search.whoosh_posting_pool import freq_bytes

#: What a generation holds (schema, columns, codec); written into each as ``FORMAT``.
#: A generation of another format cannot be read by this code: it is replaced by an
#: empty one and marked for a rebuild (:meth:`Generations.ensure_live`).
FORMAT = "2"

CONTENT_COLUMN = "canon"  # canonical text of every searchable value
TITLE_COLUMN = "tcanon"  # canonical text of the title


class _Terms(fields.FieldType):
    """An indexed text field whose terms come ready-made from :mod:`search.analysis`.

    Frequencies only, no positions: exact (phrase) matching is done on the
    canonical text column (:class:`CanonicalText`), so the postings only
    have to say which documents hold a term and how often.
    """

    def __init__(self) -> None:
        self.format = formats.Frequency()
        self.analyzer = None
        self.scorable = False  # ranking is ours (search.whoosh_ranking): no field lengths
        self.stored = False
        self.unique = False
        self.vector = None
        self.column_type = None

    @staticmethod
    def counts(value: Any) -> Mapping[str, int]:
        raise NotImplementedError

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        for tok, n in self.counts(value).items():
            yield tok.encode("utf-8"), n, float(n), freq_bytes(n)


class BigramField(_Terms):
    """Bigrams, words and word-adjacent unigrams (see :func:`token_counts`).

    Accepts a string or a list of strings (separate values: no match spans two).
    """

    counts = staticmethod(token_counts)


class CanonicalText(fields.FieldType):
    """Not indexed: the canonical unit stream (UTF-8) in a column.

    A query segment occurs in a document exactly when its canonical form is
    a substring of this (see :func:`search.analysis.canonical`); values of a
    list are joined with a boundary so no match spans two.
    """

    indexed = False

    def __init__(self) -> None:
        self.format = None
        self.analyzer = None
        self.scorable = False
        self.stored = False
        self.unique = False
        self.vector = None
        self.column_type = columns.VarBytesColumn()

    def to_column_value(self, value: Any) -> bytes:
        texts = [value] if isinstance(value, str) else value
        return "\x02".join(canonical(t) for t in texts).encode("utf-8")


def make_schema() -> fields.Schema:
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        content=BigramField(),
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
        **{CONTENT_COLUMN: CanonicalText(), TITLE_COLUMN: CanonicalText()},
    )


def ancestors(path: str) -> list[str]:
    """``/a/b`` → ``["/", "/a", "/a/b"]`` so a subtree is one term lookup."""
    parts = [p for p in path.split("/") if p]
    return ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def normalize_prefix(path: str) -> str:
    """A subtree path as the ``ancestors`` term it is indexed under."""
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts)


def whoosh_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A prepared document (see :func:`search.backend.prepare_document`) → ``add_document`` kwargs."""
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
        CONTENT_COLUMN: texts,
        "doc": {k: v for k, v in doc.items() if k not in ("text", "allowed")},
        "body": doc.get("text", ""),
    }
    if doc["allowed"]:
        out["allowed"] = list(doc["allowed"])  # none: visible to nobody
    if doc.get("title"):
        out["title"] = out[TITLE_COLUMN] = doc["title"]
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
