"""文号/索引号 typed in any bracket style find their document first."""

from __future__ import annotations

import pytest

from search import SearchQuery

from .corpus import BRACKETS, NOW


def _numbered(corpus):
    return [d for d in corpus if d.get("doc_number") and d["allowed"] == ["system.Everyone"]
            and "effective" not in d and "expires" not in d]  # fmt: skip


@pytest.mark.parametrize("style", range(len(BRACKETS)))
def test_doc_number_ranks_first_in_every_bracket_style(backend, corpus, style):
    o, c = BRACKETS[style]
    for doc in _numbered(corpus)[:8]:
        year = doc["published"].year
        number = doc["doc_number"].split("号")[0].rsplit(doc["unit"] + "发", 1)[0]
        typed = f"梅{doc['unit']}发{o}{year}{c}{doc['id'][4:].lstrip('0') or '0'}号"
        r = backend.query(SearchQuery(text=typed, now=NOW))
        assert r.hits and r.hits[0].id == doc["id"], (typed, doc["doc_number"], number)


def test_doc_number_with_spaces_and_fullwidth(backend, corpus):
    doc = _numbered(corpus)[0]
    typed = " ".join(doc["doc_number"]).replace("(", "（").replace(")", "）")
    r = backend.query(SearchQuery(text=typed, now=NOW))
    assert r.hits[0].id == doc["id"]


def test_index_number_exact(backend, corpus):
    doc = _numbered(corpus)[1]
    r = backend.query(SearchQuery(text=doc["index_number"], now=NOW))
    assert r.hits[0].id == doc["id"]
    assert r.hits[0].score > 1000


def test_doc_number_respects_visibility(backend, corpus):
    hidden = [d for d in corpus if d.get("doc_number") and d["allowed"] != ["system.Everyone"]]
    assert hidden
    r = backend.query(SearchQuery(text=hidden[0]["doc_number"], now=NOW))
    assert hidden[0]["id"] not in {h.id for h in r.hits}
