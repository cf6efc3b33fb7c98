"""A change stamp shared by the processes of one machine, so that a kept page's versions are read
from the database only after something changed.

Under load, the one query a hit makes was most of its cost: 16 serving threads taking turns at
SQLite (and at the GIL it releases around each step) served a kept item at 2,400 req/s; without
the query, 5,000. So every commit that bumped page tags (.tags.bump, whichever code called it)
writes a new random value into an 8-byte file under the page cache's directory, mapped into every
process (`portal.page_cache_changes = file`, the default). The middleware remembers, per kept
page, the stamp under which it last found the page's versions current, and serves it again
without a query while the stamp stays.

Why that is exact: the stamp is read *before* the versions, and renewed *after* the commit. A
commit that the versions did not include is renewed after the stamp was read, so the stamp
differs at the next hit. A random value (not a counter) leaves no two writers to agree on an
increment, and no old value to come back.

Several app servers writing one database do not see each other's files: they set
`portal.page_cache_changes = database`, and every hit asks the database as before. A process
that writes without this package (SQL by hand) renews nothing: its changes show when the pages'
max-age runs out, or at once after a restart with `var/pagecache/` cleared.
"""
from __future__ import annotations

import mmap
import os
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.orm import Session

SIZE = 8
BUMPED = "portal.pagecache.bumped"  # Session.info: this transaction bumped page tags
# by the engine's pool (an engine with other options shares it), by file: apps on one engine
# with page caches of their own (tests) each get theirs renewed
_stamps: WeakKeyDictionary[Any, dict[Path, ChangeStamp]] = WeakKeyDictionary()


class ChangeStamp:
    """The stamp file `path`, mapped: `read()` costs a slice of memory, `renew()` a write to it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < SIZE:
                os.ftruncate(fd, SIZE)
            self._map = mmap.mmap(fd, SIZE)
        finally:
            os.close(fd)  # the mapping keeps the file
        self.path = path

    def read(self) -> bytes:
        return self._map[:SIZE]

    def renew(self) -> None:
        self._map[:SIZE] = os.urandom(SIZE)


def watch(engine: Any, stamp: ChangeStamp) -> None:
    """Renew `stamp` after each commit on `engine` (any session of it) that bumped page tags."""
    _stamps.setdefault(engine.pool, {})[stamp.path] = stamp


def mark_bumped(session: Any) -> None:
    """.tags.bump: this session's transaction changed tags' versions (a bare Connection's commit is
    not seen: every caller bumps through a Session)."""
    if isinstance(session, Session):
        session.info[BUMPED] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if not session.info.pop(BUMPED, False):
        return
    pool = getattr(session.get_bind(), "pool", None)
    stamps = _stamps.get(pool) if pool is not None else None
    for stamp in list((stamps or {}).values()):
        stamp.renew()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(BUMPED, None)
