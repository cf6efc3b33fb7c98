"""Index generations on disk: which one is live, making and swapping in a new one, the write lock.

On-disk layout::

    <path>/CURRENT          name of the live generation directory (one line)
    <path>/WRITELOCK        whoosh FileLock: one writer (thread or process)
    <path>/REBUILD_NEEDED   present while the live generation waits for a rebuild
    <path>/gen-<ns>-<rand>/ a complete Whoosh index, with its ``FORMAT``

Why generations instead of writing in place: a rebuild writes a whole new
index in a sibling directory while searches continue on the live one, then
swaps ``CURRENT`` with an atomic ``os.replace``.  Searchers opened on the old
generation keep their (memory-mapped / open) files after the old directory
is deleted (POSIX semantics); the next query of each thread notices the new
``CURRENT`` and opens the new generation.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Iterator

from whoosh import fields, index
from whoosh.filedb.filestore import FileStorage

from search.whoosh_schema import FORMAT

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
LOCK_NAME = "WRITELOCK"
FORMAT_FILE = "FORMAT"
REBUILD_NEEDED = "REBUILD_NEEDED"


class IndexBusy(TimeoutError):
    """Another writer (e.g. a rebuild) holds the index; retry later."""


class Generations:
    """The generation directories under one index directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._storage = FileStorage(str(path))
        self._current_cache: tuple[tuple[int, int], str] | None = None

    def ensure_live(self, schema: fields.Schema, timeout: float) -> None:
        """Make sure a live generation of this code's :data:`FORMAT` exists.

        One of another format cannot be read: it is replaced by an empty one
        and :data:`REBUILD_NEEDED` marks the index until a rebuild fills it.
        """
        if (self.path / CURRENT).exists() and self.live_format() == FORMAT:
            return
        with self.lock(timeout):
            if not (self.path / CURRENT).exists():
                self.swap_in(self._empty(schema))
            elif (old := self.live_format()) != FORMAT:
                log.warning("search index %s has format %s, this code writes %s: starting an empty index;"
                            " it must be rebuilt from the database (`portal reindex`)", self.path, old, FORMAT)
                (self.path / REBUILD_NEEDED).write_text(f"format {old} replaced by {FORMAT}\n", "utf-8")
                self.swap_in(self._empty(schema))

    def _empty(self, schema: fields.Schema) -> str:
        with self.create(schema) as (gen, _ix):
            return gen

    # -- the live generation

    def live(self) -> str:
        """The live generation's name; ``CURRENT`` is re-read only when it changed."""
        p = self.path / CURRENT
        st = p.stat()
        key = (st.st_ino, st.st_mtime_ns)
        cached = self._current_cache
        if cached and cached[0] == key:
            return cached[1]
        name = p.read_text("utf-8").strip()
        self._current_cache = (key, name)
        return name

    def forget_live(self) -> None:
        """Read ``CURRENT`` again next time (its generation was swapped out under a reader)."""
        self._current_cache = None

    def live_format(self) -> str:
        """The live generation's format ("1" for generations written before formats were)."""
        path = self.path / self.live() / FORMAT_FILE
        try:
            return path.read_text("utf-8").strip()
        except FileNotFoundError:
            return "1"

    def open(self, gen: str) -> index.Index:
        return index.open_dir(str(self.path / gen))

    def open_live(self) -> index.Index:
        return self.open(self.live())

    def live_size(self) -> int:
        """Bytes on disk of the live generation."""
        gen_dir = self.path / self.live()
        return sum(f.stat().st_size for f in gen_dir.rglob("*") if f.is_file())

    @property
    def needs_rebuild(self) -> bool:
        return (self.path / REBUILD_NEEDED).exists()

    # -- writing (under the lock)

    @contextlib.contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        """The write lock, or :class:`IndexBusy` after ``timeout`` seconds."""
        lock = self._storage.lock(LOCK_NAME)
        deadline = time.monotonic() + timeout
        while not lock.acquire(blocking=False):
            if time.monotonic() >= deadline:
                raise IndexBusy(f"search index {self.path} is locked by another writer")
            time.sleep(0.05)
        try:
            yield
        finally:
            lock.release()

    @contextlib.contextmanager
    def create(self, schema: fields.Schema) -> Iterator[tuple[str, index.Index]]:
        """A new, empty generation beside the live one: (name, index); deleted if the block fails."""
        gen = f"gen-{time.time_ns()}-{uuid.uuid4().hex[:6]}"
        gen_dir = self.path / gen
        gen_dir.mkdir()
        try:
            ix = index.create_in(str(gen_dir), schema)
            (gen_dir / FORMAT_FILE).write_text(FORMAT + "\n", "utf-8")
            yield gen, ix
        except BaseException:
            shutil.rmtree(gen_dir, ignore_errors=True)
            raise

    def swap_in(self, gen: str, *, complete: bool = False) -> None:
        """Atomically make ``gen`` live, then delete every other generation.

        ``complete``: ``gen`` holds every document (a rebuild), so the index
        no longer waits for one.
        """
        tmp = self.path / f"{CURRENT}.{uuid.uuid4().hex}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(gen + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path / CURRENT)
        for child in self.path.iterdir():
            if child.is_dir() and child.name.startswith("gen-") and child.name != gen:
                shutil.rmtree(child, ignore_errors=True)
        if complete:
            (self.path / REBUILD_NEEDED).unlink(missing_ok=True)
