"""Facet counts, facet filters, subtree search, sorting and paging."""

from __future__ import annotations

from collections import Counter

from search import SearchQuery

from .corpus import NOW, all_ids, oracle_ids


def _matching(corpus, q):
    ids = oracle_ids(corpus, q)
    return [d for d in corpus if d["id"] in ids]


def test_facet_counts_match_manual_count(backend, corpus):
    r = backend.query(SearchQuery(text="电子政务", now=NOW, facets=("unit", "type", "subject", "year")))
    docs = _matching(corpus, "电子政务")
    assert r.total == len(docs)
    for name in ("unit", "type", "subject"):
        assert dict(r.facets[name]) == Counter(d[name] for d in docs)
    assert dict(r.facets["year"]) == Counter(str(d["published"].year) for d in docs)
    counts = [c for _, c in r.facets["unit"]]
    assert counts == sorted(counts, reverse=True)


def test_unknown_facets_are_ignored(backend):
    r = backend.query(SearchQuery(text="电子政务", now=NOW, facets=("unit", "allowed", "nonsense")))
    assert set(r.facets) == {"unit"}


def test_filters_or_within_and_across(backend, corpus):
    filters = {"unit": ["zfb", "jyj"], "type": ["通知"], "year": ["2011", "2012"]}
    total, ids = all_ids(backend, "政", filters=filters)
    expected = {
        d["id"]
        for d in _matching(corpus, "政")
        if d["unit"] in ("zfb", "jyj") and d["type"] == "通知" and str(d["published"].year) in ("2011", "2012")
    }
    assert set(ids) == expected and total == len(expected)


def test_filter_counts_and_facets_agree(backend, corpus):
    r = backend.query(SearchQuery(text="政", now=NOW, filters={"subject": ["教育"]}, facets=("subject", "unit")))
    docs = [d for d in _matching(corpus, "政") if d["subject"] == "教育"]
    assert r.total == len(docs)
    assert r.facets["subject"] == [("教育", len(docs))]
    assert dict(r.facets["unit"]) == Counter(d["unit"] for d in docs)


def test_path_prefix_is_a_subtree(backend, corpus):
    for prefix in ["/xxgk/zfb", "/xxgk/zfb/", "/news", "/xxgk/zf"]:
        total, ids = all_ids(backend, "政", path_prefix=prefix)
        want = prefix.rstrip("/")
        expected = {d["id"] for d in _matching(corpus, "政") if d["path"].startswith(want + "/")}
        assert set(ids) == expected and total == len(expected), prefix
    assert all_ids(backend, "政", path_prefix="/xxgk/zf")[0] == 0


def test_sort_by_date_is_newest_first(backend, corpus):
    r = backend.query(SearchQuery(text="电子政务", now=NOW, sort="date", page_size=50))
    dates = [h.fields["published"] for h in r.hits]
    assert dates == sorted(dates, reverse=True)
    newest = max(d["published"] for d in _matching(corpus, "电子政务"))
    assert dates[0] == newest


def test_relevance_scores_descend_and_pages_do_not_overlap(backend):
    first = backend.query(SearchQuery(text="电子政务专网", now=NOW, page=1, page_size=7))
    second = backend.query(SearchQuery(text="电子政务专网", now=NOW, page=2, page_size=7))
    scores = [h.score for h in first.hits + second.hits]
    assert scores == sorted(scores, reverse=True)
    assert not {h.id for h in first.hits} & {h.id for h in second.hits}
    assert first.total == second.total


def test_title_matches_rank_higher(backend, corpus):
    r = backend.query(SearchQuery(text="电子政务专网", now=NOW, page_size=100))
    in_title = ["电子政务专网" in (h.fields.get("title") or "") for h in r.hits]
    if any(in_title) and not all(in_title):
        assert in_title.index(False) > 0


def test_paging_bounds(backend):
    r = backend.query(SearchQuery(text="政", now=NOW, page=10_000, page_size=10))
    assert r.hits == [] and r.total > 0
    r = backend.query(SearchQuery(text="政", now=NOW, page=0, page_size=0))
    assert len(r.hits) == 10  # nonsense paging falls back to the defaults
    r = backend.query(SearchQuery(text="政", now=NOW, page="x", page_size=-3))  # type: ignore[arg-type]
    assert len(r.hits) == 10
    r = backend.query(SearchQuery(text="政", now=NOW, page_size=10_000))
    assert len(r.hits) == 100


def test_hit_fields_and_highlights(backend):
    r = backend.query(SearchQuery(text="电子政务专网", now=NOW))
    hit = r.hits[0]
    assert "text" not in hit.fields and "allowed" not in hit.fields
    assert {"id", "title", "unit", "published", "path"} <= set(hit.fields)
    assert "<mark>电子政务专网</mark>" in hit.highlights["title"] + hit.highlights["text"]


def test_all_ids_helper_sees_each_hit_once(backend):
    total, ids = all_ids(backend, "政")
    assert total == len(ids) == len(set(ids))
