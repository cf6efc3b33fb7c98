"""Snippets with ``<mark>`` around exact query matches, HTML-escaped.

Engine-neutral on purpose: highlighting from the bigram index would mark
every overlapping bigram separately (and mark bigrams that matched only as
parts of the phrase elsewhere); matching the query segments against the
stored text with the same unit model as the index marks exactly what matched.
"""

from __future__ import annotations

from html import escape
from typing import Sequence

from search.analysis import Unit, identity_fold, iter_matches, segment_regex, units

FRAGMENT_CHARS = 90
MAX_FRAGMENTS = 2


def match_spans(text: str, segs: Sequence[Sequence[str]], doc_units: list[Unit] | None = None) -> list[tuple[int, int]]:
    """Merged, sorted character spans of ``text`` matched by any segment.

    Text whose folding keeps every offset (nearly all text) is matched with
    one regular expression per segment (C speed); other text, or given
    ``doc_units``, goes through the unit stream (:func:`units`), the
    reference the fast path is tested against.
    """
    if not text or not segs:
        return []
    folded = identity_fold(text) if doc_units is None else None
    if folded is not None:
        spans = sorted(
            (m.start(1), m.end(1)) for seg in segs if seg for m in segment_regex(tuple(seg)).finditer(folded)
        )
    else:
        us = units(text) if doc_units is None else doc_units
        spans = sorted(
            (us[i].start, us[j].end) for seg in segs for i, j in iter_matches(us, list(seg))
        )
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def _render(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> str:
    out: list[str] = []
    pos = start
    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if s >= e:
            continue
        out.append(escape(text[pos:s]))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        pos = e
    out.append(escape(text[pos:end]))
    return "".join(out).replace("\r", "").replace("\n", " ")


def highlight_whole(text: str, segs: Sequence[Sequence[str]]) -> str:
    """All of ``text`` (e.g. a title), escaped, with every match marked."""
    return _render(text, 0, len(text), match_spans(text, segs))


def _windows(spans: list[tuple[int, int]], length: int, fragment_chars: int, max_fragments: int) -> list[tuple[int, int]]:
    windows: list[tuple[int, int]] = []
    for s, _e in spans:
        if windows and s < windows[-1][1]:
            continue
        if len(windows) == max_fragments:
            break
        start = max(0, s - fragment_chars // 3)
        windows.append((start, min(length, start + fragment_chars)))
    return windows


def snippet(
    text: str,
    segs: Sequence[Sequence[str]],
    fragment_chars: int = FRAGMENT_CHARS,
    max_fragments: int = MAX_FRAGMENTS,
) -> str:
    """Up to ``max_fragments`` windows around the first matches, joined by …

    Without a match, the start of the text (a summary is better than nothing).
    """
    if not text:
        return ""
    spans = match_spans(text, segs)
    windows = _windows(spans, len(text), fragment_chars, max_fragments)
    if not windows:
        windows = [(0, min(len(text), fragment_chars))]
    parts: list[str] = []
    for start, end in windows:
        frag = _render(text, start, end, spans).strip()
        parts.append(("…" if start > 0 else "") + frag + ("…" if end < len(text) else ""))
    return " ".join(parts)
