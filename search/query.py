"""Turn whatever a visitor typed into a safe, engine-neutral query.

The public query language is deliberately tiny, because engine syntax
(``field:``, ``*``, ``AND``/``OR``/``NOT``, brackets) only produces errors
and surprises for the public:

* words separated by spaces must **all** match (AND);
* ``"quoted text"`` (also ＂…＂, “…”, 「…」, 『…』, 〝…〞) is a phrase, spaces inside it
  are ignored between Chinese characters;
* punctuation and symbols inside a word or phrase split it into parts that
  must all match (a match never spans punctuation, see :mod:`search.analysis`);
* ``AND``/``OR``/``NOT`` in capitals are ignored (with a message);
  ``*``, ``?``, ``:``, brackets are just punctuation;
* unbalanced quotes close at the end of the input.

:func:`parse` never raises; problems become ``messages`` for the visitor
(translation strings of the ``portal`` domain: the views translate them).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from portal.i18n import _
from search.analysis import number_key, segments

MAX_QUERY_CHARS = 200
MAX_SEGMENTS = 32
MAX_NUMBER_KEY_CHARS = 64

MSG_EMPTY = _("Enter something to search for")
MSG_NOTHING_SEARCHABLE = _("The query has nothing that can be searched for; try other words")
MSG_TOO_LONG = _("The query is too long: only its first ${n} characters were searched for",
                 mapping={"n": MAX_QUERY_CHARS})
MSG_TOO_MANY = _("The query has too many words: only the first ${n} were searched for", mapping={"n": MAX_SEGMENTS})
MSG_OPERATORS = _("AND, OR and NOT are not supported and were ignored; several words must all occur")

_OPERATORS = frozenset({"AND", "OR", "NOT", "&&", "||"})
_QUOTES = frozenset('"＂“”「」『』〝〞')


@dataclass(frozen=True)
class ParsedQuery:
    """A visitor query: segments that must all match, plus what to tell them."""

    #: Each segment is a tuple of units (see :func:`search.analysis.segments`).
    segments: tuple[tuple[str, ...], ...]
    #: Normalised document-number key of the whole input (文号/索引号 lookup).
    number_key: str | None
    #: What to tell the visitor (translation strings), in order.
    messages: tuple[str, ...]
    #: True when the visitor typed nothing at all (not even punctuation).
    blank: bool

    @property
    def is_empty(self) -> bool:
        return not self.segments and not self.number_key


def clean(text: object) -> tuple[str, list[str]]:
    """Strip control/format/unassigned characters and cap the length."""
    messages: list[str] = []
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch.isspace():
            out.append(" ")
        elif cat[0] == "C":  # Cc Cf Cs Co Cn
            continue
        else:
            out.append(ch)
    s = "".join(out).strip()
    if len(s) > MAX_QUERY_CHARS:
        s = s[:MAX_QUERY_CHARS]
        messages.append(MSG_TOO_LONG)
    return s, messages


def _pieces(text: str) -> tuple[list[str], bool]:
    """Split into phrases (quoted) and words; drop operators."""
    pieces: list[str] = []
    dropped = False
    buf: list[str] = []
    in_quote = False

    def flush_words(chunk: str) -> None:
        nonlocal dropped
        for word in chunk.split():
            if word in _OPERATORS:
                dropped = True
            else:
                pieces.append(word)

    for ch in text:
        if ch in _QUOTES:
            chunk = "".join(buf)
            buf = []
            if in_quote:
                pieces.append(chunk)
            else:
                flush_words(chunk)
            in_quote = not in_quote
        else:
            buf.append(ch)
    chunk = "".join(buf)
    if in_quote:
        pieces.append(chunk)
    else:
        flush_words(chunk)
    return pieces, dropped


def parse(text: object) -> ParsedQuery:
    """Parse visitor input; never raises."""
    s, messages = clean(text)
    if not s:
        return ParsedQuery((), None, (MSG_EMPTY,), blank=True)
    pieces, dropped = _pieces(s)
    if dropped:
        messages.append(MSG_OPERATORS)
    segs: list[tuple[str, ...]] = []
    seen: set[tuple[str, ...]] = set()
    for piece in pieces:
        for seg in segments(piece):
            key = tuple(seg)
            if key not in seen:
                seen.add(key)
                segs.append(key)
    if len(segs) > MAX_SEGMENTS:
        segs = segs[:MAX_SEGMENTS]
        messages.append(MSG_TOO_MANY)
    stripped = "".join(ch for ch in s if ch not in _QUOTES)
    key = number_key(stripped)
    if not segs or len(key) > MAX_NUMBER_KEY_CHARS:
        key = None
    if not segs:
        messages.append(MSG_NOTHING_SEARCHABLE)
    return ParsedQuery(tuple(segs), key, tuple(messages), blank=False)
