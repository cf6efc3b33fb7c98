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

Index tokens (fields ``content``/``title``): a bigram for every two
adjacent CJK units, a word token for every word, and a unigram for a CJK unit
that is adjacent to a word (so ``108号`` works); counted by position (see
:func:`token_positions`), with a boundary taking a position of its own so
nothing is adjacent across it.  Engines use them only to find *candidates*:
a document that contains a segment contains every one of its
:func:`query_tokens`, so the conjunction of those terms never misses; a
segment of exactly one token is matched exactly by that term alone.  Longer
segments and single characters are then checked exactly against the
document's :func:`canonical` text.

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
    "token_counts",
    "query_tokens",
    "canonical",
    "canonical_units",
    "canonical_segment",
    "iter_matches",
    "identity_fold",
    "segment_regex",
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


def identity_fold(text: str) -> str | None:
    """:func:`normalize` of ``text`` if it keeps every character's offset, else None.

    Offsets are kept when no character folds to more or fewer than one
    (checked for the few outside the one-to-one set), none is a combining
    mark (reordering) and nothing composes (the length is unchanged).
    """
    folded = normalize(text)
    if len(folded) != len(text):
        return None
    for ch in set(_ONE_TO_ONE_RE.findall(text)):
        if len(_fold_char(ch)) != 1 or unicodedata.combining(ch):
            return None
    return folded


_WORD_CHAR = f"[^\\W_{CJK_RANGES}]"


@lru_cache(maxsize=1024)
def segment_regex(segment: tuple[str, ...]) -> re.Pattern[str]:
    """Where ``segment`` occurs in normalised text, as group 1 of each match.

    The unit model as a pattern: spaces may sit between units (and must sit
    between two words), words are whole, and anything else (a boundary)
    breaks the match.  A lookahead finds overlapping occurrences too.
    """
    parts: list[str] = []
    for j, u in enumerate(segment):
        word = not is_cjk(u)
        if j:
            parts.append("\\s+" if word and not is_cjk(segment[j - 1]) else "\\s*")
        parts.append(f"(?<!{_WORD_CHAR}){re.escape(u)}(?!{_WORD_CHAR})" if word else re.escape(u))
    return re.compile("(?=(" + "".join(parts) + "))")


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


def token_counts(texts: str | Iterable[str]) -> Counter[str]:
    """Index tokens → number of positions they occur at (what the index stores).

    The same as counting :func:`token_positions` (the reference, and the
    property tests check it), in fewer Python steps: this is the hot path of
    bulk indexing.
    """
    counts: Counter[str] = Counter()
    for text in [texts] if isinstance(texts, str) else texts:
        prev = BOUNDARY
        last_cjk = ""
        lone = False  # the last CJK run is one character right after a word
        for cjk, word, _ in _UNIT_RE.findall(normalize(text)):
            if cjk:
                lone = False
                if prev == WORD:
                    counts[cjk[0]] += 1  # unigram next to a word: "108号"
                    lone = len(cjk) == 1
                elif prev == CJK:
                    counts[last_cjk + cjk[0]] += 1  # run continued across a space
                if len(cjk) > 1:
                    counts.update(map(str.__add__, cjk, cjk[1:]))
                last_cjk = cjk[-1]
                prev = CJK
            elif word:
                if prev == CJK and not lone:  # (a lone one already counts at this position)
                    counts[last_cjk] += 1
                counts[word] += 1
                prev = WORD
            else:
                prev = BOUNDARY
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


_BOUNDARY_RE = re.compile(f"[^\\w\\s{CJK_RANGES}]|_")
_WORD_RE = re.compile(f"([^\\W_{CJK_RANGES}]+)")
_SPACE_RE = re.compile(r"\s+")


def canonical(text: str) -> str:
    """The unit stream as a string, so exact matching is ``in``.

    CJK units appear as themselves, words as ``\\x01word\\x01``, boundaries as
    ``\\x02``, and whitespace not at all -- three C-level substitutions on
    the normalised text (:func:`canonical_units` is the same by the unit
    stream, and the tests hold them equal).
    """
    marked = _WORD_RE.sub("\x01\\1\x01", _BOUNDARY_RE.sub("\x02", normalize(text)))
    return _SPACE_RE.sub("", marked)


def canonical_units(text: str) -> str:
    """:func:`canonical` spelled out over the unit stream (the reference)."""
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
