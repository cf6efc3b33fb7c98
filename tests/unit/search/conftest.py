"""Shared fixtures: one 300-document index, built once per test session."""

from __future__ import annotations

from typing import Any

import pytest

from search import SearchQuery, WhooshBackend
from search.backend import EVERYONE

from .corpus import NOW, make_corpus


@pytest.fixture(scope="session")
def corpus() -> list[dict[str, Any]]:
    return make_corpus(300)


@pytest.fixture(scope="session")
def backend(corpus, tmp_path_factory) -> WhooshBackend:
    b = WhooshBackend(tmp_path_factory.mktemp("search-index"))
    assert b.rebuild(corpus) == len(corpus)
    yield b
    b.close()


def all_ids(backend: WhooshBackend, text: str, **kw: Any) -> tuple[int, list[str]]:
    """Total and every hit id, walking all pages (100 per page)."""
    kw.setdefault("now", NOW)
    kw.setdefault("principals", (EVERYONE,))
    ids: list[str] = []
    page = 1
    while True:
        r = backend.query(SearchQuery(text=text, page=page, page_size=100, **kw))
        ids.extend(h.id for h in r.hits)
        if len(r.hits) < 100:
            return r.total, ids
        page += 1
