"""The Whoosh patches: installed by the backend after a check, and never needed for correct answers."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from whoosh import writing
from whoosh.codec import base as codec_base
from whoosh.filedb import compound, structfile

from search import SearchQuery, WhooshBackend, whoosh_speedups
from search.backend import EVERYONE
from search.whoosh_posting_pool import _GroupingPostingPool
from search.whoosh_speedups import PATCHES, _ViewBufferFile

from .corpus import NOW

ROOT = Path(__file__).resolve().parents[3]
FACETS = ("unit", "type", "subject", "year")
QUERIES: list[dict[str, Any]] = [
    {"text": "电子政务专网"},
    {"text": "政"},
    {"text": "2011"},
    {"text": "108号"},
    {"text": "信息 安全"},
    {"text": "网络 2011"},
    {"text": "电子政务", "sort": "date"},
    {"text": "建设", "principals": ("group:staff", "user:alice", EVERYONE)},
    {"text": "网络", "filters": {"unit": ["zfb", "jyj"], "type": ["通知"]}},
    {"text": "", "path_prefix": "/xxgk/zfb"},  # browsing: date order
]


def _pages(b: WhooshBackend, kw: dict[str, Any]) -> tuple[Any, list[Any]]:
    """(total, facets, messages) and every hit, walking all pages (100 per page)."""
    hits: list[Any] = []
    page = 1
    while True:
        r = b.query(SearchQuery(now=NOW, page=page, page_size=100, facets=FACETS, **kw))
        hits.extend(r.hits)
        if len(r.hits) < 100:
            return (r.total, r.facets, r.messages), hits
        page += 1


def exact_answers(b: WhooshBackend) -> list[Any]:
    """Everything a visitor sees, hit order included (same documents in the same order: same docnums)."""
    out: list[Any] = [b.doc_count()]
    for kw in QUERIES:
        head, hits = _pages(b, kw)
        out.append((head, [(h.id, h.score if h.score is None else round(h.score, 9), h.highlights) for h in hits]))
    return out


def answers_up_to_ties(b: WhooshBackend) -> list[Any]:
    """Like :func:`exact_answers`, but ties in the order may fall either way: with two writer
    processes documents get other docnums, and ties go to the lower docnum."""
    out: list[Any] = [b.doc_count()]
    for kw in QUERIES:
        head, hits = _pages(b, kw)
        keys = [h.fields["published"] if h.score is None else round(h.score, 9) for h in hits]
        out.append((head, keys, sorted((h.id, str(k)) for h, k in zip(hits, keys))))
    return out


@pytest.fixture()
def unpatched() -> Iterator[None]:
    """Whoosh as shipped for the test; the patches are put back afterwards."""
    whoosh_speedups.uninstall()
    yield
    whoosh_speedups.uninstall()
    assert whoosh_speedups.install() == frozenset(PATCHES)


def _whoosh_is_as_shipped() -> bool:
    return (
        writing.PostingPool.__module__ == "whoosh.writing"
        and codec_base.FieldWriter.add_postings.__module__ == "whoosh.codec.base"
        and compound.BufferFile is structfile.BufferFile
    )


def test_importing_search_patches_nothing_and_a_backend_installs_them(tmp_path):
    code = (
        "import sys, search; from search import whoosh_speedups as s; from whoosh import writing\n"
        "assert s.active() == frozenset() and writing.PostingPool.__module__ == 'whoosh.writing'\n"
        "search.WhooshBackend(sys.argv[1]); print(sorted(s.active()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "ix")], cwd=ROOT,
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert out.stdout.split() == ["['field_lengths',", "'mmap_reads',", "'posting_pool']"]


def test_the_patches_fit_the_pinned_whoosh_and_are_active_once_a_backend_exists(tmp_path):
    assert whoosh_speedups.mismatches() == []
    WhooshBackend(tmp_path / "ix").close()
    assert whoosh_speedups.active() == {"posting_pool", "field_lengths", "mmap_reads"}
    assert writing.PostingPool is _GroupingPostingPool and compound.BufferFile is _ViewBufferFile
    wrapped = codec_base.FieldWriter.add_postings
    assert wrapped.__module__ == "search.whoosh_speedups"
    assert whoosh_speedups.install() == whoosh_speedups.active()
    assert codec_base.FieldWriter.add_postings is wrapped  # idempotent: not wrapped twice


def test_uninstall_puts_whoosh_back(unpatched):
    assert whoosh_speedups.active() == frozenset() and _whoosh_is_as_shipped()


def _changed_add_postings(original: Any) -> Any:
    def add_postings(self: Any, schema: Any, lengths: Any, items: Any, spelling: bool = False) -> Any:
        return original(self, schema, lengths, items)  # a new parameter upstream, same behaviour

    return add_postings


@pytest.mark.parametrize("differs", ["version", "signature"])
def test_a_mismatch_warns_installs_nothing_and_answers_stay_the_same(
    unpatched, backend, corpus, tmp_path, caplog, differs
):
    patched_answers = exact_answers(backend)  # the session index, built with the patches
    with pytest.MonkeyPatch.context() as mp:
        if differs == "version":
            mp.setattr(whoosh_speedups, "PINNED_VERSION", "3.55.0")
            named = "whoosh3 is 3.54.0, the patches are written for 3.55.0"
        else:
            changed = _changed_add_postings(codec_base.FieldWriter.add_postings)
            mp.setattr(codec_base.FieldWriter, "add_postings", changed)
            named = ("whoosh.codec.base:FieldWriter.add_postings is (self, schema, lengths, items, spelling=False),"
                     " expected (self, schema, lengths, items)")  # fmt: skip
        with caplog.at_level(logging.WARNING, logger="search.whoosh_speedups"):
            b = WhooshBackend(tmp_path / "ix")
            WhooshBackend(tmp_path / "other").close()  # checked once: one warning
        warnings = [r.getMessage() for r in caplog.records if r.name == "search.whoosh_speedups"]
        assert len(warnings) == 1 and named in warnings[0], warnings
        assert whoosh_speedups.active() == frozenset()
        assert writing.PostingPool.__module__ == "whoosh.writing" and compound.BufferFile is structfile.BufferFile
        assert codec_base.FieldWriter.add_postings.__module__ != "search.whoosh_speedups"

        assert b.rebuild(corpus) == len(corpus)
        assert exact_answers(b) == patched_answers
        b.index([{"id": "new", "text": "独一无二的测试文字", "allowed": [EVERYONE]}])  # a segment more
        b.unindex([corpus[1]["id"]])
        assert b.query(SearchQuery(text="独一无二", now=NOW)).total == 1
        assert b.doc_count() == len(corpus)
        b.close()


@pytest.mark.parametrize("patches", ["installed", "unpatched"])
def test_two_writer_processes_build_the_same_index_as_one(request, corpus, tmp_path, patches):
    if patches == "unpatched":
        request.getfixturevalue("unpatched")
    one = WhooshBackend(tmp_path / "one", procs=1)
    two = WhooshBackend(tmp_path / "two", procs=2, limitmb=1)  # and spilled runs in each process
    assert one.rebuild(corpus) == two.rebuild(corpus) == len(corpus)
    assert len(two._reader().searcher.leaf_searchers()) >= 2  # the sub-writers' segments
    assert answers_up_to_ties(two) == answers_up_to_ties(one)
    one.close()
    two.close()
