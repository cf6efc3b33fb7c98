"""Content-addressed file storage for attachments and images.

Files are stored once per content (SHA-256), so an attachment shared by
several pages or uploaded twice takes no extra space, and a digest stored in
the database can never point at a file whose content has silently changed.

Layout under ``root``::

    tmp/                      uploads being written (same filesystem as blobs)
    ab/cd/abcd…(64 hex)       the blobs themselves
    scales/ab/abcd…-thumb.jpg cached image scales (see ``portal.images``)

Uploads are written to ``tmp/`` and only then given their final name in one
atomic step, so a reader (or a crash) never sees a half-written blob.
``TransactionalBlobs`` ties uploads to the ``transaction`` package used by
pyramid_tm: when a request's transaction is rolled back, the files it added
are removed again instead of being left behind as orphans.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import transaction.interfaces
from zope.interface import implementer

__all__ = [
    "BlobStore",
    "BlobTooLarge",
    "TransactionalBlobs",
    "content_disposition",
]

CHUNK_SIZE = 1 << 16
_DIGEST_RE = re.compile(r"[0-9a-f]{64}")
# errno values meaning "this filesystem cannot make hard links": we then
# fall back to os.replace (still atomic, only less exact about created_new).
_NO_LINK_ERRNOS = frozenset(
    e
    for e in (
        getattr(errno, "EPERM", None),
        getattr(errno, "ENOTSUP", None),
        getattr(errno, "EOPNOTSUPP", None),
        getattr(errno, "ENOSYS", None),
        getattr(errno, "EMLINK", None),
        getattr(errno, "EXDEV", None),
    )
    if e is not None
)


class BlobTooLarge(ValueError):
    """The upload passed ``limit`` bytes; views turn this into a user message."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"blob larger than {limit} bytes")
        self.limit = limit


def _chunks(source: bytes | bytearray | memoryview | BinaryIO) -> Iterator[bytes]:
    """Yield ``source`` in chunks so large uploads never sit in memory twice."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source).cast("B")
        for start in range(0, len(view), CHUNK_SIZE):
            yield bytes(view[start : start + CHUNK_SIZE])
        return
    read = source.read
    while True:
        chunk = read(CHUNK_SIZE)
        if not chunk:
            return
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise TypeError("blob source must be opened in binary mode")
        yield bytes(chunk)


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable; best effort (not every OS/filesystem allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _touch(path: Path) -> None:
    """Move mtime strictly forward (file timestamps are jiffy-coarse, so a
    plain utime() right after creation may not change them)."""
    try:
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, max(time.time_ns(), st.st_mtime_ns + 1)))
    except OSError:
        pass


class BlobStore:
    """Content-addressed files under ``root``; see the module docstring."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    def path(self, digest: str) -> Path:
        """Final path of ``digest``.

        The digest often comes from a URL, so anything but 64 lower-case hex
        characters is refused (ValueError) rather than joined into a path.
        """
        if not isinstance(digest, str) or not _DIGEST_RE.fullmatch(digest):
            raise ValueError(f"invalid blob digest: {digest!r}")
        return self.root / digest[:2] / digest[2:4] / digest

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def open(self, digest: str) -> BinaryIO:
        """Open for reading; FileNotFoundError if the blob is missing."""
        return open(self.path(digest), "rb")

    def delete(self, digest: str) -> bool:
        """Remove the blob and its cached image scales; False if it was absent."""
        path = self.path(digest)
        scales = self.root / "scales" / digest[:2]
        if scales.is_dir():
            for cached in scales.glob(f"{digest}-*"):
                cached.unlink(missing_ok=True)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def _new_tmp(self) -> tuple[int, Path]:
        """Create an exclusive temp file (mode 0o644 minus umask, unlike mkstemp's
        0o600, so a front-end web server may serve blobs directly)."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        while True:
            tmp = self.tmp_dir / f"put-{secrets.token_hex(12)}"
            try:
                return os.open(tmp, flags, 0o644), tmp
            except FileExistsError:  # pragma: no cover - 96 random bits
                continue

    def put(
        self,
        source: bytes | bytearray | memoryview | BinaryIO,
        max_size: int | None = None,
    ) -> tuple[str, int, bool]:
        """Store ``source``; return ``(sha256 hex, size, created_new)``.

        ``source`` is read in chunks; BlobTooLarge is raised as soon as more
        than ``max_size`` bytes have arrived (nothing is left on disk).
        ``created_new`` is False when identical content was already stored.
        """
        fd, tmp = self._new_tmp()
        try:
            hasher = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                for chunk in _chunks(source):
                    size += len(chunk)
                    if max_size is not None and size > max_size:
                        raise BlobTooLarge(max_size)
                    hasher.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = hasher.hexdigest()
            final = self.path(digest)
            final.parent.mkdir(parents=True, exist_ok=True)
            created = self._publish(tmp, final)
            if created:
                _fsync_dir(final.parent)
            else:
                tmp.unlink(missing_ok=True)
                # Refresh mtime: tells TransactionalBlobs (and a future GC) that
                # the content was referenced again after it was first written.
                _touch(final)
            return digest, size, created
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @staticmethod
    def _publish(tmp: Path, final: Path) -> bool:
        """Give ``tmp`` its final name atomically; False if it already existed.

        A hard link fails when the name exists, so of two processes storing
        the same content at once exactly one reports ``created_new`` (and only
        that one may delete it on abort). Where links are unsupported we fall
        back to ``os.replace``, which is equally atomic.
        """
        try:
            os.link(tmp, final)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in _NO_LINK_ERRNOS:
                raise
            if final.exists():
                return False
            os.replace(tmp, final)
            return True
        tmp.unlink(missing_ok=True)
        return True


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


@implementer(transaction.interfaces.ISavepointDataManager)
class _BlobDataManager:
    """Deletes the blobs a transaction newly created if it does not commit.

    Committing needs no work: the files are already durable. Each created
    blob is remembered with its (inode, mtime); if the content was stored
    again since (``put`` refreshes mtime on dedup), it is kept on abort,
    because someone else may now reference it.
    """

    def __init__(self, store: BlobStore, transaction_manager, owner: object = None) -> None:
        self.store = store
        self.transaction_manager = transaction_manager
        # Keeps the owner alive while joined, so its id() (the key of
        # Transaction.data) cannot be reused by another object meanwhile.
        self.owner = owner
        self._created: dict[str, tuple[int, int] | None] = {}

    def record(self, digest: str, created_new: bool) -> None:
        if created_new or digest in self._created:
            self._created[digest] = _stamp(self.store.path(digest))

    def _remove(self, digests: list[str]) -> None:
        for digest in digests:
            stamp = self._created.pop(digest, None)
            if stamp is not None and _stamp(self.store.path(digest)) == stamp:
                try:
                    self.store.delete(digest)
                except OSError:  # never let cleanup break an abort
                    pass

    def _cleanup(self) -> None:
        self._remove(list(self._created))

    # IDataManager
    def abort(self, txn) -> None:
        self._cleanup()

    def tpc_begin(self, txn) -> None:
        pass

    def commit(self, txn) -> None:
        pass

    def tpc_vote(self, txn) -> None:
        pass

    def tpc_finish(self, txn) -> None:
        self._created.clear()

    def tpc_abort(self, txn) -> None:
        self._cleanup()

    def sortKey(self) -> str:
        # Nothing to do at commit time, so the position hardly matters; "~"
        # sorts after the usual SQLAlchemy/zope data managers.
        return f"~portal.blobs:{id(self)}"

    # ISavepointDataManager: without it, transaction.savepoint() would fail
    # in any request that uploaded a file.
    def savepoint(self) -> _BlobSavepoint:
        return _BlobSavepoint(self, set(self._created))


@implementer(transaction.interfaces.IDataManagerSavepoint)
class _BlobSavepoint:
    def __init__(self, dm: _BlobDataManager, before: set[str]) -> None:
        self.dm = dm
        self.before = before

    def rollback(self) -> None:
        self.dm._remove([d for d in self.dm._created if d not in self.before])




class TransactionalBlobs:
    """A ``BlobStore`` whose new files vanish again if the transaction aborts.

    ``put`` joins the current transaction of ``transaction_manager`` (so with
    an explicit manager a transaction must have begun). Read methods pass
    through to the store.
    """

    def __init__(self, store: BlobStore, transaction_manager) -> None:
        self.store = store
        self.transaction_manager = transaction_manager

    @property
    def root(self) -> Path:
        return self.store.root

    def _data_manager(self) -> _BlobDataManager:
        txn = self.transaction_manager.get()
        try:
            return txn.data(self)
        except KeyError:
            dm = _BlobDataManager(self.store, self.transaction_manager, owner=self)
            txn.join(dm)  # join before writing: no file we could not undo
            txn.set_data(self, dm)
            return dm

    def put(
        self,
        source: bytes | bytearray | memoryview | BinaryIO,
        max_size: int | None = None,
    ) -> tuple[str, int, bool]:
        """Like ``BlobStore.put``, undone on abort if ``created_new``."""
        dm = self._data_manager()
        digest, size, created = self.store.put(source, max_size=max_size)
        dm.record(digest, created)
        return digest, size, created

    def path(self, digest: str) -> Path:
        return self.store.path(digest)

    def exists(self, digest: str) -> bool:
        return self.store.exists(digest)

    def open(self, digest: str) -> BinaryIO:
        return self.store.open(digest)


# RFC 5987 attr-char minus ALPHA / DIGIT (which quote() always keeps).
_ATTR_SAFE = "!#$&+-.^_`|~"


def content_disposition(filename: str, inline: bool = False) -> str:
    """``Content-Disposition`` value that keeps Chinese file names intact.

    Modern browsers use ``filename*`` (RFC 6266 / RFC 5987, UTF-8
    percent-encoded); the plain ``filename`` is an ASCII-only fallback with
    quotes, backslashes and other characters replaced, so the header can
    neither break nor be injected into. Directory parts, control and
    format characters and lone surrogates (names stored before uploads
    cleaned them, see ``portal.uploads.clean_filename``) are dropped.
    """
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp")
    ).strip()
    if not name or name in (".", ".."):
        name = "download"

    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:  # no extension, or a dot-file such as ".env"
        stem, ext = name, ""

    def ascii_part(text: str) -> str:
        text = unicodedata.normalize("NFKD", text)
        out = []
        for ch in text:
            if unicodedata.combining(ch):
                continue  # é -> e
            ok = " " <= ch <= "~" and ch not in '"\\%'
            out.append(ch if ok else "_")
        return re.sub(r"_{2,}", "_", "".join(out))

    fallback_stem = ascii_part(stem).strip(" _")
    fallback_ext = ascii_part(ext).strip(" _")
    if not any(ch.isalnum() for ch in fallback_stem):
        fallback_stem = "download"
    fallback = fallback_stem + (f".{fallback_ext}" if fallback_ext else "")

    kind = "inline" if inline else "attachment"
    encoded = quote(name, safe=_ATTR_SAFE, encoding="utf-8")
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
