"""Visibility is enforced inside the engine: totals, pages and facets agree."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from search import SearchQuery
from search.backend import EVERYONE

from .corpus import NOW, all_ids, oracle_ids, visible

PRINCIPAL_SETS = [
    (EVERYONE,),
    (EVERYONE, "group:staff"),
    ("group:staff",),
    ("user:alice",),
    (EVERYONE, "user:alice", "group:editors", "group:staff"),
    ("nobody",),
    (),
]


@pytest.mark.parametrize("principals", PRINCIPAL_SETS)
@pytest.mark.parametrize("q", ["电子政务", "政", "2011", "协同办公"])
def test_principals_filter(backend, corpus, principals, q):
    total, ids = all_ids(backend, q, principals=principals)
    expected = oracle_ids(corpus, q, principals)
    assert total == len(expected) and set(ids) == expected


@pytest.mark.parametrize("days", [-400, -31, -3, 0, 1, 3, 10, 40, 400])
def test_effective_and_expires_window(backend, corpus, days):
    now = NOW + timedelta(days=days)
    total, ids = all_ids(backend, "政", now=now)
    assert set(ids) == oracle_ids(corpus, "政", now=now)
    assert total == len(ids)


def test_window_edges_are_half_open(tmp_path):
    from search import WhooshBackend

    b = WhooshBackend(tmp_path / "ix")
    t = datetime(2012, 1, 1, 8, 0)
    b.index([{"id": "a", "text": "电子政务", "allowed": [EVERYONE], "effective": t, "expires": t + timedelta(hours=1)}])

    def n(now: datetime) -> int:
        return b.query(SearchQuery(text="电子政务", now=now)).total

    assert n(t - timedelta(microseconds=1)) == 0
    assert n(t) == 1  # effective <= now
    assert n(t + timedelta(minutes=59)) == 1
    assert n(t + timedelta(hours=1)) == 0  # now < expires
    # aware datetimes are compared in China time
    assert n(datetime(2012, 1, 1, 0, 30, tzinfo=timezone.utc)) == 1


def test_first_match_is_filtered_too(tmp_path):
    """Regression: the very first matching document must not escape the filter."""
    from search import WhooshBackend

    b = WhooshBackend(tmp_path / "ix")
    b.index(
        [
            {"id": "0", "text": "电子政务", "allowed": [EVERYONE], "expires": NOW - timedelta(days=1)},
            {"id": "1", "text": "电子政务", "allowed": ["group:staff"]},
            {"id": "2", "text": "电子政务", "allowed": [EVERYONE]},
        ]
    )
    r = b.query(SearchQuery(text="电子政务", now=NOW, facets=("unit",)))
    assert [h.id for h in r.hits] == ["2"] and r.total == 1


def test_missing_allowed_means_nobody(tmp_path):
    from search import WhooshBackend

    b = WhooshBackend(tmp_path / "ix")
    b.index([{"id": "x", "text": "电子政务"}])
    for principals in [(EVERYONE,), ("system.Authenticated",), ("",)]:
        assert b.query(SearchQuery(text="电子政务", principals=principals)).total == 0


def test_facet_counts_respect_visibility(backend, corpus):
    for principals in [(EVERYONE,), ("group:staff",)]:
        r = backend.query(SearchQuery(text="政", principals=principals, now=NOW, facets=("unit", "type")))
        expected = oracle_ids(corpus, "政", principals)
        seen = [d for d in corpus if d["id"] in expected]
        assert r.total == len(seen)
        assert dict(r.facets["unit"]) == Counter(d["unit"] for d in seen)
        assert dict(r.facets["type"]) == Counter(d["type"] for d in seen)


def test_browsing_without_text_is_filtered(backend, corpus):
    total, ids = all_ids(backend, "", filters={"unit": ["zfb"]}, sort="date")
    expected = {d["id"] for d in corpus if d["unit"] == "zfb" and visible(d)}
    assert set(ids) == expected and total == len(expected)


def test_date_window_binds_only_the_everyone_grant(tmp_path):
    """The public loses an out-of-date item; whoever may view it otherwise still finds it."""
    from search import WhooshBackend

    b = WhooshBackend(tmp_path / "ix")
    old = NOW - timedelta(days=1)
    b.index(
        [
            {"id": "pub", "text": "时效窗口", "allowed": [EVERYONE, "user:editor"], "expires": old},
            {"id": "own", "text": "时效窗口", "allowed": ["user:editor"], "effective": NOW + timedelta(days=1)},
        ]
    )

    def found(*principals: str) -> set[str]:
        r = b.query(SearchQuery(text="时效窗口", principals=principals, now=NOW, facets=("unit",)))
        assert r.total == len(r.hits)
        return {h.id for h in r.hits}

    assert found(EVERYONE) == set()
    assert found(EVERYONE, "user:editor") == {"pub", "own"}
    assert found("user:editor") == {"pub", "own"}
    assert found(EVERYONE, "user:other") == set()
