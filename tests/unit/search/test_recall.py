"""Exact recall: the engine finds exactly the documents a substring scan finds."""

from __future__ import annotations

import re
import unicodedata

import pytest

from search.backend import SEARCHABLE_FIELDS

from .corpus import NOW, all_ids, oracle_ids, visible

CJK_QUERIES = [
    "电子政务专网", "便民服务中心", "协同办公", "电子政务", "专网", "政", "网", "县",
    "信息公开", "黄梅县人民政府", "服务中心", "建设实施方案", "不存在的词语组合",
]  # fmt: skip
OTHER_QUERIES = [
    "2011", "２０１１", "108号", "梅政办发108号", "二o一一年", "windows", "WINDOWS", "ie6",
    "xp", "cpu", "qq com", "2011年", "o一一", "电子政务 专网", "电子政务 2011", "政 网",
    "协同办公 便民服务中心", "1024", "768", "iii800mhz", "9", "2", "文件 2012",
]  # fmt: skip


def _plain_substring_ids(corpus, q: str) -> set[str]:
    """Independent oracle for pure-CJK queries: NFKC, lower, spaces removed, ``in``."""

    def norm(s: str) -> str:
        return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s).lower())

    return {
        d["id"]
        for d in corpus
        if visible(d) and any(q in norm(d[f]) for f in SEARCHABLE_FIELDS if d.get(f))
    }


@pytest.mark.parametrize("q", CJK_QUERIES)
def test_cjk_query_equals_substring_scan(backend, corpus, q):
    expected = _plain_substring_ids(corpus, q)
    assert expected == oracle_ids(corpus, q)
    total, ids = all_ids(backend, q)
    assert total == len(expected)
    assert set(ids) == expected
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("q", OTHER_QUERIES)
def test_mixed_query_equals_canonical_scan(backend, corpus, q):
    expected = oracle_ids(corpus, q)
    total, ids = all_ids(backend, q)
    assert total == len(expected)
    assert set(ids) == expected


def test_queries_do_find_something(backend, corpus):
    """Guard against a vacuous oracle: the interesting queries have hits."""
    for q in ["电子政务专网", "便民服务中心", "协同办公", "政", "2011", "108号", "windows"]:
        assert oracle_ids(corpus, q), q


@pytest.mark.parametrize("i", range(0, 300, 23))
def test_every_sentence_fragment_is_found(backend, corpus, i):
    """Random slices of real document text always find their document."""
    doc = corpus[i]
    text = re.sub(r"\s+", "", doc["text"])
    m = re.search(r"[\u4e00-\u9fff]{5,}", text)
    assert m
    frag = m.group()[1:5]
    total, ids = all_ids(backend, frag, principals=doc["allowed"], now=NOW)
    assert visible(doc, doc["allowed"]) == (doc["id"] in ids)
    assert set(ids) == oracle_ids(corpus, frag, doc["allowed"])


def test_words_match_whole(backend, corpus):
    """``2011`` is a whole word: ``201`` or ``011`` never match inside it."""
    assert oracle_ids(corpus, "2011")
    for q in ["201", "011", "20", "2011年10"]:
        total, ids = all_ids(backend, q)
        assert set(ids) == oracle_ids(corpus, q) and total == len(ids), q
    assert all_ids(backend, "201")[0] == 0


def test_repeated_bigram_segment_is_checked_not_taken_from_its_one_term(tmp_path):
    """政政政 is the term 政政 twice: a document with only 政政 must not match."""
    from datetime import datetime

    from search import SearchQuery, WhooshBackend

    b = WhooshBackend(tmp_path / "ix")
    docs = [("a", "行政政务"), ("b", "行政政政务"), ("c", "政政，政")]
    b.rebuild({"id": i, "title": i, "text": t, "allowed": ["system.Everyone"],
               "published": datetime(2020, 1, 1)} for i, t in docs)  # fmt: skip
    assert {h.id for h in b.query(SearchQuery(text="政政政")).hits} == {"b"}
    assert {h.id for h in b.query(SearchQuery(text="政政")).hits} == {"a", "b", "c"}
    assert {h.id for h in b.query(SearchQuery(text="政")).hits} == {"a", "b", "c"}
    b.close()
