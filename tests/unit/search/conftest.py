"""Shared fixtures: one 300-document index, built once per test session."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from search import WhooshBackend

from .corpus import make_corpus


@pytest.fixture(scope="session")
def corpus() -> list[dict[str, Any]]:
    return make_corpus(300)


@pytest.fixture(scope="session")
def backend(corpus, tmp_path_factory) -> Iterator[WhooshBackend]:
    b = WhooshBackend(tmp_path_factory.mktemp("search-index"))
    assert b.rebuild(corpus) == len(corpus)
    yield b
    b.close()
