"""Where rendered pages are kept: a bounded memory store per process, in front of a file store
that the processes of one machine share (the embedded default). A user's pages (`Entry.personal`)
stay in memory: they may show unpublished drafts, which have no business on a disk.

Another backend (Redis for several app servers, DESIGN §11) implements `get` and `put` of
`Entry`; nothing else knows how entries are kept. An entry is only ever served after its tags'
versions were checked against the database (portal.pagecache.tween), so a store may lose or keep
entries as it likes: a stale entry is never shown, a lost one is rendered again.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Entry:
    """A rendered response and what it showed: `tags` at `versions` (portal.pagecache.tags)."""

    key: str
    tags: tuple[str, ...]
    versions: tuple[int, ...]
    etag: str
    last_modified: float | None  # seconds since the epoch
    stored_at: float
    max_age: int
    status: int
    headers: tuple[tuple[str, str], ...]
    nonce: str  # the render's CSP nonce, replaced by a new one whenever the entry is served
    body: bytes
    personal: bool = False  # one session's page (portal.pagecache.tween): private, never on disk

    def fresh(self, now: float | None = None) -> bool:
        """Within its max-age: what becomes public or expires with time has no event to bump."""
        return (now or time.time()) - self.stored_at < self.max_age

    @property
    def size(self) -> int:
        return len(self.body) + 512


class Store(Protocol):
    def get(self, key: str) -> Entry | None: ...
    def put(self, entry: Entry) -> None: ...


class MemoryStore:
    """Least recently used entries up to `max_bytes`; thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, entry: Entry) -> None:
        if entry.size > self.max_bytes // 4:
            return
        with self._lock:
            old = self._entries.pop(entry.key, None)
            if old is not None:
                self.used -= old.size
            self._entries[entry.key] = entry
            self.used += entry.size
            while self.used > self.max_bytes:
                _key, dropped = self._entries.popitem(last=False)
                self.used -= dropped.size


class FileStore:
    """One file per entry under `directory` (a JSON head line, then the body), written to a temporary
    file and renamed, so a reader in another process sees a whole entry or none. Every
    `PRUNE_EVERY` writes, the oldest files go while there are more than `max_files`. A memory store
    in front answers repeated hits without reading the file."""

    PRUNE_EVERY = 256

    def __init__(self, directory: Path, memory: MemoryStore, max_files: int = 20_000) -> None:
        self.directory = directory
        self.memory = memory
        self.max_files = max_files
        self._writes = 0
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return self.directory / digest[:2] / digest

    def get(self, key: str) -> Entry | None:
        entry = self.memory.get(key)
        if entry is not None:
            return entry
        try:
            with self._path(key).open("rb") as f:
                head = json.loads(f.readline())
                body = f.read()
        except (OSError, ValueError):
            return None
        if head.get("key") != key:
            return None
        entry = Entry(**{**head, "tags": tuple(head["tags"]), "versions": tuple(head["versions"]),
                         "headers": tuple(tuple(h) for h in head["headers"]), "body": body})
        self.memory.put(entry)
        return entry

    def put(self, entry: Entry) -> None:
        self.memory.put(entry)
        if entry.personal:
            return
        path = self._path(entry.key)
        head = {k: v for k, v in asdict(entry).items() if k != "body"}
        try:
            path.parent.mkdir(exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            with tmp.open("wb") as f:
                f.write(json.dumps(head, ensure_ascii=False).encode("utf-8") + b"\n" + entry.body)
            os.replace(tmp, path)
        except OSError:
            return  # a full disk costs speed, never a page
        self._writes += 1
        if self._writes % self.PRUNE_EVERY == 0:
            self.prune()

    def prune(self) -> None:
        files = [p for p in self.directory.glob("*/*") if not p.name.endswith(".tmp")]
        if len(files) <= self.max_files:
            return
        files.sort(key=lambda p: p.stat().st_mtime if p.exists() else 0)
        for path in files[:len(files) - self.max_files * 4 // 5]:
            try:
                path.unlink()
            except OSError:
                pass
