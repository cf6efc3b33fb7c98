"""Writing: replace/unindex, atomic rebuild while searching, locking, bulk modes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from whoosh.query import Term

from search import IndexBusy, SearchQuery, WhooshBackend
from search.backend import EVERYONE

from .corpus import NOW, all_ids, make_corpus, oracle_ids


def _gens(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.is_dir() and p.name.startswith("gen-"))


def _n(b: WhooshBackend, text: str = "政") -> int:
    return b.query(SearchQuery(text=text, now=NOW)).total


@pytest.fixture()
def small(tmp_path):
    docs_a = make_corpus(60, seed=1)
    docs_b = [dict(d, id="b-" + d["id"]) for d in make_corpus(120, seed=2)]
    b = WhooshBackend(tmp_path / "ix")
    b.rebuild(docs_a)
    yield b, docs_a, docs_b
    b.close()


def test_rebuild_swaps_while_searchers_are_open(small):
    b, docs_a, docs_b = small
    n_a, n_b = len(oracle_ids(docs_a, "政")), len(oracle_ids(docs_b, "政"))
    assert n_a != n_b
    old_gen = _gens(b.path)
    old_reader = b._reader()  # a searcher open on the old generation, as if
    b._local.reader = None  # held by a request still running in another thread
    other_process = WhooshBackend(b.path)  # e.g. another web worker
    assert _n(other_process) == n_a

    seen_during: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def search_loop() -> None:
        while not stop.is_set():
            try:
                seen_during.append(_n(b))
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

    t = threading.Thread(target=search_loop)
    t.start()
    during_build: list[int] = []
    b.rebuild(docs_b, progress=lambda k: during_build.append(_n(b)))
    stop.set()
    t.join()

    assert not errors
    assert set(seen_during) <= {n_a, n_b} and seen_during
    assert during_build and set(during_build) == {n_a}  # live index untouched while building
    assert _n(b) == n_b and _n(other_process) == n_b
    assert _gens(b.path) != old_gen and len(_gens(b.path)) == 1  # old directory removed
    # the searcher opened before the swap still works on the deleted generation
    old = old_reader.searcher
    hits = old.search(Term("allowed", EVERYONE), limit=5)
    assert len(hits) > 0 and hits[0].fields()["doc"]["id"].startswith("doc-")
    assert len(old.search(Term("content", "电子"), limit=None)) > 0
    old_reader.close()


def test_index_replaces_by_id_and_unindex_removes(small):
    b, docs_a, _ = small
    doc = dict(docs_a[0], text="独一无二的测试文字", allowed=[EVERYONE])
    doc.pop("effective", None), doc.pop("expires", None)
    assert b.index([doc]) == 1
    assert _n(b, "独一无二") == 1
    b.index([dict(doc, text="另一段完全不同的文字")])
    assert _n(b, "独一无二") == 0 and _n(b, "完全不同") == 1
    assert b.doc_count() == len(docs_a)
    b.unindex([doc["id"], "no-such-id"])
    assert _n(b, "完全不同") == 0 and b.doc_count() == len(docs_a) - 1
    b.unindex([])
    assert b.index([]) == 0


def test_writers_are_serialised_and_told_to_retry(small):
    b, docs_a, docs_b = small
    release = threading.Event()
    started = threading.Event()

    def slow_docs():
        for i, d in enumerate(docs_b):
            if i == 5:
                started.set()
                release.wait(10)
            yield d

    t = threading.Thread(target=b.rebuild, args=(slow_docs(),))
    t.start()
    assert started.wait(10)
    impatient = WhooshBackend(b.path, writer_timeout=0.2)
    with pytest.raises(IndexBusy):
        impatient.index([dict(docs_a[0], text="写入被拒")])
    with pytest.raises(IndexBusy):
        impatient.unindex(["x"])
    assert _n(b) == len(oracle_ids(docs_a, "政"))  # reads go on meanwhile
    release.set()
    t.join()
    impatient.index([dict(docs_a[0], id="late", text="迟到的更新", allowed=[EVERYONE])])
    assert _n(b, "迟到的更新") == 1  # the retried write lands in the new index


def test_failed_rebuild_keeps_the_live_index(small):
    b, docs_a, docs_b = small
    before = _gens(b.path)

    def broken():
        yield from docs_b[:10]
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        b.rebuild(broken())
    assert _gens(b.path) == before
    assert _n(b) == len(oracle_ids(docs_a, "政"))
    assert _gens(b.path) == before


def test_invalid_documents_are_skipped_not_fatal(small, caplog):
    b, docs_a, _ = small
    bad = [{"id": "x", "title": 42}, {"id": ""}, {"title": "无编号"}, {"id": "y", "colour": "red"}]
    good = {"id": "ok", "text": "有效文档", "allowed": [EVERYONE]}
    assert b.index(bad + [good]) == 1
    assert _n(b, "有效文档") == 1
    assert b.rebuild(bad + [good]) == 1
    assert b.doc_count() == 1
    assert "skipping invalid document" in caplog.text


def test_same_id_twice_in_one_batch(small):
    b, _, _ = small
    b.index([{"id": "z", "text": "旧内容", "allowed": [EVERYONE]}, {"id": "z", "text": "新内容", "allowed": [EVERYONE]}])
    assert _n(b, "旧内容") == 0 and _n(b, "新内容") == 1


def test_duplicate_ids_in_rebuild_last_wins_and_clear(small):
    b, docs_a, _ = small
    docs = [
        {"id": "a", "text": "第一版", "allowed": [EVERYONE]},
        {"id": "b", "text": "其他", "allowed": [EVERYONE]},
        {"id": "a", "text": "第二版", "allowed": [EVERYONE]},
    ]
    assert b.rebuild(docs) == 2
    assert b.doc_count() == 2
    assert _n(b, "第一版") == 0 and _n(b, "第二版") == 1
    b.clear()
    assert b.doc_count() == 0 and _n(b, "其他") == 0


@pytest.mark.parametrize("procs", [1, 2])
def test_bulk_build_with_spilling_and_processes(tmp_path, corpus, procs):
    """Tiny ``limitmb`` forces many spilled runs; procs=2 uses Whoosh's MpWriter."""
    b = WhooshBackend(tmp_path / "ix", procs=procs, limitmb=1)
    seen: list[int] = []
    assert b.rebuild(corpus[:150], progress=seen.append) == 150
    assert sum(seen) == 150
    assert b.doc_count() == 150
    for q in ["电子政务专网", "政", "2011", "108号"]:
        total, ids = all_ids(b, q)
        assert set(ids) == oracle_ids(corpus[:150], q), q
        # small visibility sets drive the search (docnums across segments)
        for principals, unit in [(("group:staff",), None), ((EVERYONE,), "zfb")]:
            total, ids = all_ids(b, q, principals=principals, filters={"unit": [unit]} if unit else {})
            want = {i for i in oracle_ids(corpus[:150], q, principals)
                    if unit is None or next(d for d in corpus if d["id"] == i)["unit"] == unit}  # fmt: skip
            assert set(ids) == want and total == len(want), (q, principals, unit)
    if procs == 2:
        assert len(b._reader().searcher.leaf_searchers()) == 2
    b.close()


def test_an_index_of_another_format_is_replaced_and_marked_for_rebuild(tmp_path, corpus):
    b = WhooshBackend(tmp_path / "ix")
    b.rebuild(corpus[:5])
    gen = (tmp_path / "ix" / "CURRENT").read_text("utf-8").strip()
    b.close()
    (tmp_path / "ix" / gen / "FORMAT").unlink()  # written before formats were recorded
    old = WhooshBackend(tmp_path / "ix")
    assert old.needs_rebuild and old.doc_count() == 0
    assert not (tmp_path / "ix" / gen).exists()
    old.index(corpus[5:6])  # the outbox keeps working meanwhile
    assert old.doc_count() == 1
    old.rebuild(corpus[:5])
    assert not old.needs_rebuild and old.doc_count() == 5
    assert not WhooshBackend(tmp_path / "ix").needs_rebuild
    old.close()
