"""Specification of the content-addressed blob store (portal.blobs)."""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import stat
from pathlib import Path
from urllib.parse import unquote

import pytest
import transaction
from transaction.interfaces import IDataManager, ISavepointDataManager, NoTransaction
from zope.interface.verify import verifyObject

from portal import blobs
from portal.blobs import BlobStore, BlobTooLarge, TransactionalBlobs, content_disposition


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored_files(root: Path) -> list[Path]:
    """Every file under root except the temp area."""
    return sorted(p for p in root.rglob("*") if p.is_file() and "tmp" not in p.relative_to(root).parts)


def tmp_files(root: Path) -> list[Path]:
    tmp = root / "tmp"
    return sorted(tmp.iterdir()) if tmp.exists() else []


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


# --- put / path / open / delete -------------------------------------------


def test_put_returns_digest_size_and_stores_under_sharded_path(store: BlobStore) -> None:
    data = "黄梅县人民政府".encode()
    digest, size, created = store.put(data)
    assert (digest, size, created) == (sha(data), len(data), True)
    assert store.path(digest) == store.root / digest[:2] / digest[2:4] / digest
    assert store.path(digest).read_bytes() == data
    assert store.exists(digest)
    with store.open(digest) as fh:
        assert fh.read() == data
    assert tmp_files(store.root) == []


def test_identical_content_is_stored_once(store: BlobStore) -> None:
    first = store.put(b"same bytes")
    second = store.put(io.BytesIO(b"same bytes"))
    assert first[:2] == second[:2]
    assert (first[2], second[2]) == (True, False)
    assert len(stored_files(store.root)) == 1
    assert tmp_files(store.root) == []


def test_stream_larger_than_one_chunk(store: BlobStore) -> None:
    data = random.Random(1).randbytes(3 * blobs.CHUNK_SIZE + 17)
    digest, size, _ = store.put(io.BytesIO(data))
    assert digest == sha(data) and size == len(data)
    assert store.path(digest).read_bytes() == data


def test_empty_blob(store: BlobStore) -> None:
    digest, size, created = store.put(b"")
    assert (digest, size, created) == (sha(b""), 0, True)


def test_text_mode_stream_is_refused(store: BlobStore) -> None:
    with pytest.raises(TypeError):
        store.put(io.StringIO("text"))  # type: ignore[arg-type]
    assert tmp_files(store.root) == [] and stored_files(store.root) == []


def test_size_limit_is_inclusive(store: BlobStore) -> None:
    digest, size, _ = store.put(b"x" * 100, max_size=100)
    assert size == 100 and store.exists(digest)


def test_too_large_raises_and_leaves_nothing(store: BlobStore) -> None:
    with pytest.raises(BlobTooLarge) as info:
        store.put(b"x" * 101, max_size=100)
    assert info.value.limit == 100
    assert isinstance(info.value, ValueError)
    assert tmp_files(store.root) == []
    assert stored_files(store.root) == []


def test_too_large_stops_reading_early(store: BlobStore) -> None:
    """An endless upload is cut off once past the limit, not read to the end."""

    class Endless(io.RawIOBase):
        reads = 0

        def read(self, n: int = -1) -> bytes:
            self.reads += 1
            assert self.reads < 1000, "put() kept reading past max_size"
            return b"\0" * n

    source = Endless()
    with pytest.raises(BlobTooLarge):
        store.put(source, max_size=5 * blobs.CHUNK_SIZE)  # type: ignore[arg-type]
    assert source.reads <= 7
    assert tmp_files(store.root) == []


def test_failed_upload_leaves_no_file(store: BlobStore) -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.n = 0

        def read(self, n: int = -1) -> bytes:
            self.n += 1
            if self.n > 2:
                raise ConnectionResetError("client went away")
            return b"a" * n

    with pytest.raises(ConnectionResetError):
        store.put(Broken())  # type: ignore[arg-type]
    assert tmp_files(store.root) == [] and stored_files(store.root) == []


def test_final_name_appears_only_when_complete(store: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """While data is streaming and being fsynced, only a temp file exists."""
    data = random.Random(2).randbytes(2 * blobs.CHUNK_SIZE + 5)
    digest = sha(data)
    seen: list[bool] = []

    class Watching(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            seen.append(store.path(digest).exists())
            return super().read(n)

    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):  # not the directory fsync after the rename
            seen.append(store.path(digest).exists())
        real_fsync(fd)

    monkeypatch.setattr(blobs.os, "fsync", fsync)
    store.put(Watching(data))
    assert seen and not any(seen)
    assert store.path(digest).read_bytes() == data


def test_put_without_hard_links_falls_back_to_replace(store: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_link(src: object, dst: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(blobs.os, "link", no_link)
    assert store.put(b"fat32")[2] is True
    assert store.put(b"fat32")[2] is False
    assert tmp_files(store.root) == []
    assert store.path(sha(b"fat32")).read_bytes() == b"fat32"


def test_delete(store: BlobStore) -> None:
    digest, _, _ = store.put(b"gone soon")
    scale = store.root / "scales" / digest[:2] / f"{digest}-thumb.png"
    scale.parent.mkdir(parents=True)
    scale.write_bytes(b"cached")
    assert store.delete(digest) is True
    assert not store.exists(digest) and not scale.exists()
    assert store.delete(digest) is False
    with pytest.raises(FileNotFoundError):
        store.open(digest)


@pytest.mark.parametrize(
    "bad",
    [
        "../../etc/passwd",
        "",
        "a" * 63,
        "a" * 65,
        "g" * 64,
        "A" * 64,
        "../" + "a" * 61,
        "a" * 62 + "/x",
        "a" * 63 + "\n",
        None,
    ],
)
def test_malformed_digest_is_rejected(store: BlobStore, bad: object) -> None:
    for method in (store.path, store.exists, store.open, store.delete):
        with pytest.raises(ValueError):
            method(bad)  # type: ignore[arg-type]


# --- transactions -----------------------------------------------------------


@pytest.fixture
def tm() -> transaction.TransactionManager:
    return transaction.TransactionManager(explicit=True)


@pytest.fixture
def tblobs(store: BlobStore, tm: transaction.TransactionManager) -> TransactionalBlobs:
    return TransactionalBlobs(store, tm)


def test_abort_removes_blob_created_in_transaction(tblobs: TransactionalBlobs, tm) -> None:
    tm.begin()
    digest, _, created = tblobs.put(b"draft upload")
    assert created and tblobs.exists(digest)
    tm.abort()
    assert not tblobs.exists(digest)


def test_commit_keeps_blob(tblobs: TransactionalBlobs, tm) -> None:
    tm.begin()
    digest, _, _ = tblobs.put(b"published")
    tm.commit()
    assert tblobs.exists(digest)
    with tblobs.open(digest) as fh:
        assert fh.read() == b"published"
    # a later, unrelated abort does not touch it
    tm.begin()
    tm.abort()
    assert tblobs.exists(digest)


def test_abort_keeps_blobs_that_existed_before(store: BlobStore, tblobs: TransactionalBlobs, tm) -> None:
    old, _, _ = store.put(b"already there")
    tm.begin()
    again = tblobs.put(b"already there")
    new, _, _ = tblobs.put(b"brand new")
    assert again[2] is False
    tm.abort()
    assert store.exists(old)
    assert not store.exists(new)


def test_same_content_twice_in_aborted_transaction_is_removed(tblobs: TransactionalBlobs, tm) -> None:
    tm.begin()
    digest, _, first = tblobs.put(b"twice")
    _, _, second = tblobs.put(b"twice")
    assert (first, second) == (True, False)
    tm.abort()
    assert not tblobs.exists(digest)


def test_abort_keeps_blob_stored_again_by_someone_else(store: BlobStore, tblobs: TransactionalBlobs, tm) -> None:
    """Another request (or process) that stored the same content meanwhile
    may already reference it, so the aborting transaction leaves it alone."""
    tm.begin()
    digest, _, created = tblobs.put(b"uploaded by two editors")
    assert created
    assert store.put(b"uploaded by two editors")[2] is False
    tm.abort()
    assert store.exists(digest)


@pytest.mark.parametrize(
    "failing_sort_key",
    ["0-failing", "~~~failing"],
    ids=["fails-before-our-vote", "fails-after-our-vote"],  # abort() vs tpc_abort() path
)
def test_failed_commit_removes_new_blobs(tblobs: TransactionalBlobs, tm, failing_sort_key: str) -> None:
    class FailingVote:
        transaction_manager = tm

        def abort(self, txn): pass
        def tpc_begin(self, txn): pass
        def commit(self, txn): pass
        def tpc_vote(self, txn): raise RuntimeError("database refused")
        def tpc_finish(self, txn): pass
        def tpc_abort(self, txn): pass
        def sortKey(self): return failing_sort_key

    tm.begin()
    digest, _, _ = tblobs.put(b"doomed")
    tm.get().join(FailingVote())
    with pytest.raises(RuntimeError):
        tm.commit()
    assert not tblobs.exists(digest)
    tm.abort()
    assert not tblobs.exists(digest)


def test_savepoint_rollback_removes_only_later_blobs(tblobs: TransactionalBlobs, tm) -> None:
    tm.begin()
    before, _, _ = tblobs.put(b"before savepoint")
    sp = tm.savepoint()
    after, _, _ = tblobs.put(b"after savepoint")
    sp.rollback()
    assert tblobs.exists(before) and not tblobs.exists(after)
    tm.commit()
    assert tblobs.exists(before)


def test_put_outside_transaction_writes_nothing(tblobs: TransactionalBlobs, store: BlobStore) -> None:
    with pytest.raises(NoTransaction):
        tblobs.put(b"no transaction begun")
    assert stored_files(store.root) == [] and tmp_files(store.root) == []


def test_too_large_inside_transaction(tblobs: TransactionalBlobs, tm, store: BlobStore) -> None:
    tm.begin()
    with pytest.raises(BlobTooLarge):
        tblobs.put(b"x" * 11, max_size=10)
    tm.abort()
    assert stored_files(store.root) == [] and tmp_files(store.root) == []


def test_joins_each_transaction_once(tblobs: TransactionalBlobs, tm) -> None:
    tm.begin()
    tblobs.put(b"one")
    tblobs.put(b"two")
    ours = [r for r in tm.get()._resources if isinstance(r, blobs._BlobDataManager)]
    assert len(ours) == 1
    tm.commit()


def test_data_manager_provides_transaction_interfaces(store: BlobStore, tm) -> None:
    dm = blobs._BlobDataManager(store, tm)
    assert verifyObject(IDataManager, dm)
    assert verifyObject(ISavepointDataManager, dm)
    assert dm.transaction_manager is tm


def test_passthroughs(tblobs: TransactionalBlobs, store: BlobStore) -> None:
    assert tblobs.root == store.root
    digest, _, _ = store.put(b"x")
    assert tblobs.path(digest) == store.path(digest)
    with pytest.raises(ValueError):
        tblobs.path("../x")


# --- Content-Disposition ----------------------------------------------------

PLAN = "《黄梅县电子政务专网建设实施方案》.pdf"


def parse(header: str) -> tuple[str, dict[str, str]]:
    kind, *params = [p.strip() for p in header.split(";")]
    return kind, dict(p.split("=", 1) for p in params)


def test_content_disposition_chinese_name() -> None:
    header = content_disposition(PLAN)
    header.encode("ascii")  # a header value must be plain ASCII
    kind, params = parse(header)
    assert kind == "attachment"
    fallback = params["filename"]
    assert fallback.startswith('"') and fallback.endswith('"')
    assert fallback.endswith('.pdf"')
    assert '"' not in fallback[1:-1] and "\\" not in fallback
    assert params["filename*"].startswith("UTF-8''")
    assert unquote(params["filename*"][len("UTF-8''"):], encoding="utf-8") == PLAN
    assert "%E9%BB%84%E6%A2%85" in params["filename*"]  # 黄梅


def test_content_disposition_inline() -> None:
    assert content_disposition("photo.jpg", inline=True).startswith("inline; ")


def test_content_disposition_ascii_name_kept() -> None:
    assert content_disposition("report-2024.pdf") == (
        "attachment; filename=\"report-2024.pdf\"; filename*=UTF-8''report-2024.pdf"
    )


def test_content_disposition_cannot_be_broken_or_injected() -> None:
    header = content_disposition('a"b\r\nSet-Cookie: x=1.txt')
    assert "\r" not in header and "\n" not in header
    match = re.fullmatch(r'attachment; filename="([^"\\]*)"; filename\*=UTF-8\'\'([^\s;"]+)', header)
    assert match is not None, header
    assert match.group(1).endswith(".txt")
    assert "%22" in match.group(2)
    # a backslash is a Windows directory separator (old browsers send full paths)
    assert 'filename="c.txt"' in content_disposition("a\\b\\c.txt")


def test_content_disposition_strips_directories_and_handles_empty() -> None:
    assert 'filename="passwd"' in content_disposition("../../etc/passwd")
    assert 'filename="x.doc"' in content_disposition("C:\\Users\\张三\\x.doc")
    assert 'filename="download"' in content_disposition("")
    assert 'filename="download.xlsx"' in content_disposition("统计表.xlsx")


def test_content_disposition_accented_fallback() -> None:
    assert 'filename="resume.pdf"' in content_disposition("résumé.pdf")
