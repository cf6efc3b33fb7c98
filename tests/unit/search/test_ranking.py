"""Ranking: phrase-frequency BM25 plus title and 文号 bonuses, and its shortcut."""

from __future__ import annotations

import pytest

from search import SearchQuery, whoosh_ranking

from .corpus import NOW

QUERIES = ["电子政务", "电子政务专网", "协同办公 便民服务中心", "政", "建设", "网络 2011", "实施方案", "梅政办发108号"]


def _ranked(backend, q: str, size: int):
    r = backend.query(SearchQuery(text=q, now=NOW, page_size=size, facets=("unit", "year")))
    return r.total, [(h.id, round(h.score, 9)) for h in r.hits], r.facets


@pytest.mark.parametrize("q", QUERIES)
@pytest.mark.parametrize("size", [1, 5, 30])
def test_title_shortcut_ranks_exactly_like_scoring_everything(backend, monkeypatch, q, size):
    """Skipping the scores of documents that cannot reach the page changes nothing."""
    shortcut = _ranked(backend, q, size)
    monkeypatch.setattr(whoosh_ranking, "_title_candidates", lambda reader, segs: None)
    assert _ranked(backend, q, size) == shortcut


def test_the_shortcut_is_taken(backend, monkeypatch):
    """Guard against a vacuous equality above: some query fills its page from titles."""
    calls = []
    original = whoosh_ranking._score

    def spy(reader, docs, *args):
        calls.append(len(docs))
        return original(reader, docs, *args)

    monkeypatch.setattr(whoosh_ranking, "_score", spy)
    r = backend.query(SearchQuery(text="电子政务", now=NOW, page_size=1))
    assert len(calls) == 1 and calls[0] < r.total


def test_phrase_frequency_and_title_raise_the_score(backend, corpus):
    r = backend.query(SearchQuery(text="电子政务专网", now=NOW, page_size=100))
    by_id = {d["id"]: d for d in corpus}
    titled = [h.score for h in r.hits if "电子政务专网" in by_id[h.id]["title"]]
    untitled = [h.score for h in r.hits if "电子政务专网" not in by_id[h.id]["title"]]
    assert titled and untitled and min(titled) > max(untitled)
