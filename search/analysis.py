"""Chinese text analysis with exact (substring) recall, independent of any engine.

Why bigrams and not a word segmenter: a government search box is judged by
"I typed 电子政务专网 and the document that contains it was not found".
Dictionary segmenters (jieba & co.) cut the same characters differently in
different contexts, so a query can miss a document that literally contains
it.  Overlapping character bigrams with positions never miss: a run of
characters is found by a phrase query over its consecutive bigrams.

The matching model (the contract the tests check)
-------------------------------------------------

Text is first normalised: Unicode NFKC (full-width ``２０１１`` → ``2011``,
``（`` → ``(``, ideographic space → space) then lower-cased.  It is then read
as a stream of *units*:

* a **CJK character** (Han incl. extension blocks, 〇, 々, kana, hangul) is one
  unit;
* a maximal run of other letters/digits (``2011``, ``windows``, ``ie6``) is one
  **word** unit, matched whole: ``2011`` does not match ``20115``;
* **whitespace** separates units but is otherwise transparent: Chinese text
  has no spaces between words, so a space or line break inside ``电子政 务``
  (a layout artefact) does not stop ``电子政务`` from matching; between ASCII
  words it is simply the word separator;
* **everything else** (punctuation, symbols, emoji, ``_``, control
  characters) is a **boundary**: it is dropped and no match spans it, so
  ``电子政务`` does not match ``电子。政务``.

A query *segment* (a sequence of units with no boundary in it) matches a text
exactly when it occurs as a contiguous run of the text's unit stream with no
boundary inside.  :func:`canonical` renders that stream as a string so that
this is a plain substring test: ``canonical(segment) in canonical(text)``.

Index tokens (field ``content``/``title``, with positions): one position per
unit, one extra position per boundary (so nothing is adjacent across it);
a bigram for every two adjacent CJK units, a word token for every word, and
a unigram for a CJK unit that is adjacent to a word (so ``108号`` works).
Every CJK character also goes, without positions, to a separate unigram field
so a one-character query (``政``) is a single term lookup.
:func:`query_tokens` builds the matching phrase for a segment: one token per
position, which makes phrase matching equivalent to the substring test;
:func:`phrase_cover` is the minimal subset of it that engines check (tokens
at exact relative offsets, e.g. 电子@0 政务@2 专网@4).

No word segmenter is used, also not for ranking: jieba is not installed, and
BM25 over bigrams already ranks phrase matches well for this corpus.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Iterable, Iterator, NamedTuple, Sequence

__all__ = [
    "CJK_RANGES",
    "Unit",
    "normalize",
    "units",
    "segments",
    "token_positions",
    "unigram_counts",
    "query_tokens",
    "phrase_cover",
    "canonical",
    "canonical_segment",
    "iter_matches",
    "is_cjk",
    "number_key",
]

#: Characters analysed one by one (and into bigrams).
CJK_RANGES = (
    "\u3005\u3007"  # 々 〇
    "\u3040-\u30ff\u31f0-\u31ff"  # kana
    "\u3100-\u312f\u31a0-\u31bf"  # bopomofo
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # Han, ext A, compatibility
    "\uac00-\ud7af"  # hangul syllables
    "\U00020000-\U0003134f"  # Han ext B..G
)
_CJK_RE = re.compile(f"[{CJK_RANGES}]")
# cjk run | word run | any other non-space char (a boundary); spaces match nothing
_UNIT_RE = re.compile(f"([{CJK_RANGES}]+)|([^\\W_{CJK_RANGES}]+)|(\\S)")

CJK, WORD, BOUNDARY = "c", "w", "b"

_OPEN_BRACKETS = "〔〘〖【[({<﹝"
_CLOSE_BRACKETS = "〕〙〗】])}>﹞"
_BRACKETS = str.maketrans(
    {**{c: "(" for c in _OPEN_BRACKETS}, **{c: ")" for c in _CLOSE_BRACKETS}}
)


def normalize(text: str) -> str:
    """NFKC + lower case: the only character folding we do (index and query)."""
    return unicodedata.normalize("NFKC", text).lower()


def is_cjk(unit: str) -> bool:
    return len(unit) == 1 and _CJK_RE.match(unit) is not None


class Unit(NamedTuple):
    """One unit of normalised text; ``start``/``end`` index the *original* text."""

    kind: str  # CJK | WORD | BOUNDARY
    text: str
    start: int
    end: int


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    return unicodedata.normalize("NFKC", ch).lower()


# Characters whose NFKC + lower() is exactly one character (ASCII, CJK
# punctuation, unified Han, full-width ASCII): text made only of them can be
# folded in one C call with offsets unchanged.
_ONE_TO_ONE_RE = re.compile("[^\x00-\x7f\u3000-\u303f\u4e00-\u9fff\uff01-\uff5e]")


def units(text: str) -> list[Unit]:
    """The unit stream of ``text`` with offsets into the original string.

    Used for highlighting, where offsets matter; folding is per character
    (identical to :func:`normalize` for everything but rare composing
    sequences), so a highlight can point back at the original characters.
    """
    if _ONE_TO_ONE_RE.search(text) is None:
        norm = normalize(text)
        origin = range(len(text) + 1)
    else:
        folded: list[str] = []
        olist: list[int] = []
        for i, ch in enumerate(text):
            f = ch.lower() if ch < "\x80" else _fold_char(ch)
            folded.append(f)
            olist.extend([i] * len(f))
        norm = "".join(folded)
        olist.append(len(text))
        origin = olist  # type: ignore[assignment]
    out: list[Unit] = []
    append = out.append
    for m in _UNIT_RE.finditer(norm):
        cjk, word, _ = m.groups()
        if cjk:
            base = m.start()
            for k, ch in enumerate(cjk):
                s = origin[base + k]
                append(Unit(CJK, ch, s, _end(origin, base + k + 1, s)))
        elif word:
            s = origin[m.start()]
            append(Unit(WORD, word, s, _end(origin, m.end(), s)))
        else:
            s = origin[m.start()]
            append(Unit(BOUNDARY, m.group(), s, _end(origin, m.end(), s)))
    return out


def _end(origin: Sequence[int], k: int, start: int) -> int:
    # first original index past the char that produced folded position k-1
    end = origin[k]
    return end if end > start else start + 1


def segments(text: str) -> list[list[str]]:
    """Split ``text`` at boundaries into segments (lists of unit strings)."""
    out: list[list[str]] = [[]]
    for m in _UNIT_RE.finditer(normalize(text)):
        cjk, word, _ = m.groups()
        if cjk:
            out[-1].extend(cjk)
        elif word:
            out[-1].append(word)
        elif out[-1]:
            out.append([])
    return [s for s in out if s]


def token_positions(texts: str | Iterable[str]) -> dict[str, list[int]]:
    """Index tokens → sorted positions, for one text or several.

    Several values (title, description, text, …) share one positional field
    with a boundary between them.  This is the hot path of bulk indexing,
    hence one regex pass per text and no per-token objects.
    """
    poses: dict[str, list[int]] = {}

    def add(tok: str, p: int) -> None:
        lst = poses.get(tok)
        if lst is None:
            poses[tok] = [p]
        elif lst[-1] != p:
            lst.append(p)

    pos = 0
    for text in [texts] if isinstance(texts, str) else texts:
        prev = BOUNDARY
        last_cjk = ""
        for m in _UNIT_RE.finditer(normalize(text)):
            cjk, word, _ = m.groups()
            if cjk:
                if prev == WORD:
                    add(cjk[0], pos)  # unigram next to a word: "108号"
                elif prev == CJK:
                    add(last_cjk + cjk[0], pos - 1)  # run continued across a space
                for i in range(len(cjk) - 1):
                    add(cjk[i : i + 2], pos + i)
                pos += len(cjk)
                last_cjk = cjk[-1]
                prev = CJK
            elif word:
                if prev == CJK:
                    add(last_cjk, pos - 1)
                add(word, pos)
                pos += 1
                prev = WORD
            else:
                pos += 1
                prev = BOUNDARY
        pos += 1  # boundary between values
    return poses


def unigram_counts(texts: str | Iterable[str]) -> Counter[str]:
    """Every CJK character with its frequency (no positions)."""
    if isinstance(texts, str):
        texts = [texts]
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(_CJK_RE.findall(normalize(text)))
    return counts


def query_tokens(segment: list[str]) -> list[str]:
    """The phrase (consecutive positions) that matches ``segment`` exactly.

    One token per unit position: a word, else the bigram starting there, else
    the unigram of a CJK unit next to a word.  The last CJK unit after another
    CJK unit needs no token (the preceding bigram covers it).  A segment that
    is a single CJK character cannot be expressed here; callers use the
    unigram field for it.
    """
    toks: list[str] = []
    n = len(segment)
    for j, u in enumerate(segment):
        if not is_cjk(u):
            toks.append(u)
        elif j + 1 < n and is_cjk(segment[j + 1]):
            toks.append(u + segment[j + 1])
        elif (j > 0 and not is_cjk(segment[j - 1])) or j + 1 < n:
            toks.append(u)  # next to a word
        elif n == 1:
            toks.append(u)  # single character: caller routes to unigram field
    return toks


def phrase_cover(segment: list[str]) -> list[tuple[int, str]]:
    """A minimal set of (offset, token) that pins down ``segment`` exactly.

    Checking tokens at exact relative offsets is equivalent to checking all
    of :func:`query_tokens`: every unit position is covered by a token, and
    consecutive positions prove there is no boundary in between (a boundary
    takes a position of its own).  ``电子政务专网`` needs 电子@0 政务@2 专网@4
    instead of five overlapping bigrams: fewer posting lists to read.
    """
    n = len(segment)
    starts: list[str | None] = []
    spans: list[int] = []
    for j, u in enumerate(segment):
        if not is_cjk(u):
            starts.append(u)
            spans.append(1)
        elif j + 1 < n and is_cjk(segment[j + 1]):
            starts.append(u + segment[j + 1])
            spans.append(2)
        elif (j > 0 and not is_cjk(segment[j - 1])) or j + 1 < n or n == 1:
            starts.append(u)
            spans.append(1)
        else:
            starts.append(None)  # last CJK unit after a CJK unit
            spans.append(1)
    cover: list[tuple[int, str]] = []
    j = 0
    while j < n:
        tok = starts[j]
        if tok is None:  # only possible for the last unit: reuse the bigram before
            prev = starts[j - 1]
            assert prev is not None
            if not cover or cover[-1][0] != j - 1:
                cover.append((j - 1, prev))
            break
        cover.append((j, tok))
        j += spans[j]
    return cover


def canonical(text: str) -> str:
    """The unit stream as a string, so exact matching is ``in``.

    CJK units appear as themselves, words as ``\\x01word\\x01``, boundaries as
    ``\\x02``.  This is the reference semantics (tests use it as the oracle).
    """
    out: list[str] = []
    for m in _UNIT_RE.finditer(normalize(text)):
        cjk, word, _ = m.groups()
        if cjk:
            out.append(cjk)
        elif word:
            out.append(f"\x01{word}\x01")
        else:
            out.append("\x02")
    return "".join(out)


def canonical_segment(segment: list[str]) -> str:
    return "".join(u if is_cjk(u) else f"\x01{u}\x01" for u in segment)


def iter_matches(doc_units: list[Unit], segment: list[str]) -> Iterator[tuple[int, int]]:
    """Yield (first, last) unit indexes where ``segment`` occurs (for highlighting)."""
    n = len(segment)
    if not n:
        return
    first = segment[0]
    for i, u in enumerate(doc_units):
        if u.text != first or u.kind == BOUNDARY:
            continue
        if i + n > len(doc_units):
            break
        ok = True
        for k in range(1, n):
            v = doc_units[i + k]
            if v.kind == BOUNDARY or v.text != segment[k]:
                ok = False
                break
        if ok:
            yield i, i + n - 1


def number_key(value: str) -> str:
    """Normalised 文号/索引号: NFKC, lower case, brackets unified, no spaces.

    ``梅政办发〔2011〕108号``, ``梅政办发(2011)108号`` and ``梅政办发[2011]108号``
    all become ``梅政办发(2011)108号``.
    """
    s = normalize(value).translate(_BRACKETS)
    return "".join(ch for ch in s if not ch.isspace())
