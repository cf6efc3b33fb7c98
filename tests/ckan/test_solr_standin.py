"""The Solr stand-in's query language on the queries CKAN sends (no CKAN needed, so it is fast)."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.ckan_support.solr_standin import SolrStandin, Unsupported, compile_query

DOCS = [
    {"index_id": "i1", "id": "p1", "name": "population", "title": "人口 by town", "state": "active",
     "capacity": "public", "site_id": "default", "organization": "town", "tags": ["人口", "towns"]},
    {"index_id": "i2", "id": "p2", "name": "budget", "title": "County budget", "state": "active",
     "capacity": "private", "site_id": "default", "organization": "finance", "tags": ["财政"]},
    {"index_id": "i3", "id": "p3", "name": "old", "title": "Old data", "state": "deleted",
     "capacity": "public", "site_id": "other", "organization": "town"},
]


@pytest.mark.parametrize(("query", "ids"), [
    ("*:*", {"p1", "p2", "p3"}),
    ('+site_id:"default" +state:active', {"p1", "p2"}),
    ("capacity:public -state:deleted", {"p1"}),
    ('name:"population" OR id:"p2"', {"p1", "p2"}),
    ("organization:(town OR finance) AND NOT capacity:private", {"p1", "p3"}),
    ("tags:人口", {"p1"}),
    ("name:pop*", {"p1"}),
    ("BUDGET", {"p2"}),
    ("+(state:active OR state:draft) +organization:town", {"p1"}),
])
def test_queries_ckan_generates(query: str, ids: set[str]) -> None:
    predicate = compile_query(query)
    assert {d["id"] for d in DOCS if predicate(d)} == ids


def test_unsupported_syntax_is_refused_not_guessed() -> None:
    with pytest.raises(Unsupported):
        compile_query("metadata_modified:[2020-01-01T00:00:00Z TO NOW]")
    with pytest.raises(Unsupported):
        compile_query("(state:active")


def _post(url: str, body: bytes, content_type: str) -> dict:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def test_http_update_select_facets_delete() -> None:
    standin = SolrStandin()
    core = standin.start()
    try:
        _post(f"{core}/update?commit=true", json.dumps(DOCS).encode(), "application/json")
        result = _post(f"{core}/select", b"q=*:*&fq=%2Bstate:active&sort=name+asc&rows=1&facet.field=organization"
                                         b"&wt=json", "application/x-www-form-urlencoded")
        assert result["response"]["numFound"] == 2
        assert [d["name"] for d in result["response"]["docs"]] == ["budget"]
        assert result["facet_counts"]["facet_fields"]["organization"] == ["finance", 1, "town", 1]
        _post(f"{core}/update", b"<delete><query>organization:town</query></delete>", "text/xml")
        assert set(standin.docs) == {"i2"}
        assert standin.calls["POST /update"] == 2
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{core}/select?q=a:[1+TO+2]", timeout=5)
        assert refused.value.code == 400
    finally:
        standin.stop()
