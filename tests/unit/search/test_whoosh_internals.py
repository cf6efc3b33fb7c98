"""The Whoosh speed-ups in search.whoosh_speedups behave like what they replace."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh.filedb.filestore import RamStorage

from search.whoosh_speedups import _GroupingPostingPool, _ViewIO, freq_bytes


def test_view_io_reads_like_a_file():
    data = b"line one\nline two\nrest"
    f = _ViewIO(memoryview(data))
    assert f.read(4) == b"line" and f.tell() == 4
    assert f.readline() == b" one\n"
    f.seek(-4, 2)
    assert f.read() == b"rest" and f.read(3) == b""
    f.seek(5)
    buf = bytearray(3)
    assert f.readinto(buf) == 3 and bytes(buf) == b"one"
    f.seek(2, 1)
    assert f.read(4) == b"ine "


_frequency = st.integers(1, 300).map(lambda n: (float(n), freq_bytes(n)))  # text fields
_existence = st.just((1.0, b""))  # ID fields
_other = st.tuples(st.floats(0.5, 5), st.one_of(st.none(), st.binary(max_size=6)))
postings = st.lists(
    st.tuples(st.sampled_from(["content", "title", "uni"]), st.binary(min_size=1, max_size=3),
              st.one_of(_frequency, _existence, _other)).map(lambda p: (p[0], p[1], *p[2])),  # fmt: skip
    max_size=60,
)


@settings(max_examples=400, deadline=None)
@given(docs=st.lists(postings, max_size=12), limit_bytes=st.sampled_from([300, 2000, 10**9]))
def test_grouping_pool_yields_whooshs_sorted_stream(docs, limit_bytes):
    pool = _GroupingPostingPool(RamStorage(), None, limitmb=1)
    pool.limit = limit_bytes  # small limits force spilled runs
    pool.RECORD = 7  # and records that split groups
    expected = []
    for docnum, doc in enumerate(docs):
        seen = set()
        for field, text, weight, value in doc:
            if (field, text) in seen:  # one posting per term per document
                continue
            seen.add((field, text))
            item = (field, text, docnum, weight, value)
            pool.add(item)
            expected.append(item)
    assert list(pool.items()) == sorted(expected, key=lambda it: (it[0], it[1], it[2]))
    assert pool.fieldnames == {f for f, *_ in expected}


def test_generic_run_api_round_trips():
    """MpWriter without ``multisegment`` writes and reads runs through these two methods."""
    pool = _GroupingPostingPool(RamStorage(), None, limitmb=1)
    items = [("content", b"ab", 0, 2.0, freq_bytes(2)), ("content", b"ab", 3, 1.0, freq_bytes(1)),
             ("title", b"x", 1, 1.0, b""), ("uni", b"y", 2, 0.5, None), ("uni", b"y", 5, 1.0, b"")]  # fmt: skip
    path, f = pool._new_run()
    pool._write_run(f, iter(items))
    assert list(pool._read_run(path)) == items
