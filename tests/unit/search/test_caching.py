"""Cached document sets (per index segment) never outlive what they describe."""

from __future__ import annotations

from datetime import datetime

import pytest

from search import SearchQuery, WhooshBackend
from search.whoosh_reader import SegmentCache

PUBLIC = ["system.Everyone"]


def _doc(i: str, text: str, title: str = "标题") -> dict:
    return {"id": i, "title": title, "text": text, "allowed": PUBLIC, "published": datetime(2021, 5, 1)}


@pytest.fixture
def backend(tmp_path):
    b = WhooshBackend(tmp_path / "ix")
    b.rebuild([_doc(f"d{k}", "推进电子政务专网建设" if k % 2 else "电子和政务和专网") for k in range(40)])
    yield b
    b.close()


def _ids(b, q: str, sort: str = "relevance") -> set[str]:
    return {h.id for h in b.query(SearchQuery(text=q, page_size=100, sort=sort)).hits}


@pytest.mark.parametrize("sort", ["relevance", "date"])
@pytest.mark.parametrize("q", ["电子政务专网", "政务", "网"])
def test_edits_after_a_cached_query_are_seen(backend, q, sort):
    before = _ids(backend, q, sort)
    assert before
    backend.index([_doc("new", "新的电子政务专网"), _doc("d1", "不再提及")])
    backend.unindex(["d3"])
    after = _ids(backend, q, sort)
    assert "d1" not in after and "d3" not in after
    assert ("new" in after) == (q in "新的电子政务专网")
    assert after - {"new"} == before - {"d1", "d3"}


def test_sets_of_unchanged_segments_are_reused_after_a_commit(backend, monkeypatch):
    built: list[tuple] = []
    original = SegmentCache.put

    def spy(self, key, value):
        built.append(key)
        return original(self, key, value)

    monkeypatch.setattr(SegmentCache, "put", spy)
    _ids(backend, "电子政务专网", "date")
    first = {k for k in built if k[1] == "phrase"}
    assert first
    built.clear()
    backend.index([_doc("new", "新的电子政务专网")])  # a new small segment
    assert "new" in _ids(backend, "电子政务专网", "date")
    assert not first & set(built)  # the old segment's set was not rebuilt


def test_effective_window_across_segments_with_and_without_dates(tmp_path):
    """Dates are read per index segment: a segment with no dated document has no date columns."""
    b = WhooshBackend(tmp_path / "ix")
    past, future = datetime(2020, 1, 1), datetime(2999, 1, 1)
    b.rebuild([_doc("plain-1", "电子政务"), {**_doc("expired-1", "电子政务"), "expires": past}])
    b.index([_doc(f"plain-{k}", "电子政务") for k in range(2, 6)])  # a segment without dates
    b.index([{**_doc("early", "电子政务"), "effective": future}, _doc("plain-6", "电子政务")])
    found = _ids(b, "电子政务")
    assert found == {f"plain-{k}" for k in range(1, 7)}
    staff = {h.id for h in b.query(SearchQuery(text="电子政务", principals=["system.Everyone", "user:x"],
                                               page_size=100)).hits}
    assert staff == found  # dates bind the public only, and user:x is not allowed anything extra
    b.close()


def test_the_dates_of_unchanged_segments_are_read_once(tmp_path, monkeypatch):
    """After a commit, a searcher (each serving thread has one) reads only the new segment's
    dates: at 100,000 documents reading them all took a second per thread and commit."""
    b = WhooshBackend(tmp_path / "ix")
    b.rebuild([_doc("plain-1", "电子政务"), {**_doc("expired-1", "电子政务"), "expires": datetime(2020, 1, 1)}])
    assert _ids(b, "电子政务") == {"plain-1"}
    read: list[str] = []
    original = SegmentCache.put

    def spy(self, key, value):
        if key[1] == "dated" and key[2] == "":
            read.append(key[0])
        return original(self, key, value)

    monkeypatch.setattr(SegmentCache, "put", spy)
    b.index([{**_doc("early", "电子政务"), "effective": datetime(2999, 1, 1)}, _doc("plain-2", "电子政务")])
    assert _ids(b, "电子政务") == {"plain-1", "plain-2"}
    assert len(read) == 1  # the new segment only: the first one's dates were kept
    b.close()


def test_date_sort_puts_undated_items_last_whatever_their_segment(tmp_path):
    b = WhooshBackend(tmp_path / "ix")
    undated = {"title": "草稿", "text": "电子政务", "allowed": PUBLIC}
    b.rebuild([{**undated, "id": "undated-a"}])
    b.index([{**undated, "id": "undated-b"}, _doc("dated", "电子政务")])  # one segment, dated and not
    r = b.query(SearchQuery(text="电子政务", sort="date"))
    assert [h.id for h in r.hits] == ["dated", "undated-a", "undated-b"]
    b.close()


def test_queries_work_when_whoosh_cannot_map_the_segments(tmp_path, monkeypatch):
    """Without mmap Whoosh reads compound segments through a file; so does the text column."""
    from whoosh.filedb import compound

    b = WhooshBackend(tmp_path / "ix")
    b.rebuild([_doc(f"d{k}", "推进电子政务专网建设" if k % 2 else "电子和政务和专网") for k in range(10)])
    expected = _ids(b, "电子政务专网")
    b.close()
    monkeypatch.setattr(compound, "mmap", None)
    unmapped = WhooshBackend(tmp_path / "ix")
    assert _ids(unmapped, "电子政务专网") == expected == {f"d{k}" for k in range(1, 10, 2)}
    assert all(isinstance(leaf.content.buf, bytes) for leaf in unmapped._reader().leaves)
    unmapped.close()
