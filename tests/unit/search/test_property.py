"""Property tests: any input is safe; any piece of text finds its documents."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search import SearchQuery
from search.query import MSG_OPERATORS, MSG_TOO_LONG, MSG_TOO_MANY, parse

from .corpus import NOW, all_ids, make_corpus, oracle_ids

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_CORPUS = make_corpus(300)
NASTY = st.sampled_from(list('"“”「」()（）[]【】〔〕*?:~^!-+&|\\/ \t\n\x00\u200b') + ["AND", "OR", "NOT", "😀", "政务", "2011"])


@SETTINGS
@given(text=st.text(max_size=300))
def test_query_never_raises(backend, text):
    r = backend.query(SearchQuery(text=text, now=NOW, facets=("unit", "year")))
    assert r.total >= 0 and len(r.hits) <= r.total
    assert r.total == 0 or set(r.messages) <= {MSG_TOO_LONG, MSG_OPERATORS, MSG_TOO_MANY}


@SETTINGS
@given(parts=st.lists(NASTY, max_size=20), page=st.integers(-5, 10**6), size=st.integers(-5, 10**6))
def test_syntax_soup_never_raises(backend, parts, page, size):
    r = backend.query(SearchQuery(text="".join(parts), now=NOW, page=page, page_size=size))
    assert r.total >= 0


@settings(max_examples=500, deadline=None)
@given(text=st.text())
def test_parser_never_raises(text):
    p = parse(text)
    assert p.messages or p.segments


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    i=st.integers(0, len(_CORPUS) - 1),
    start=st.integers(0, 400),
    length=st.integers(1, 8),
    quote=st.booleans(),
)
def test_any_slice_of_a_document_has_exact_recall(backend, i, start, length, quote):
    text = _CORPUS[i]["text"]
    start %= max(1, len(text))
    piece = text[start : start + length]
    if quote:
        piece = f'"{piece}"'
    total, ids = all_ids(backend, piece)
    if parse(piece).segments:
        assert set(ids) == oracle_ids(_CORPUS, piece)
        assert total == len(ids)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(word=st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=4))
def test_ascii_words_have_exact_recall(backend, word):
    total, ids = all_ids(backend, word)
    assert set(ids) == oracle_ids(_CORPUS, word) and total == len(ids)
