"""What a public page shows, as tags, and what a change touches, as the same tags.

A page of item C shows C and what lies below it (a listing, the 信息公开目录 of a unit, the home
page's latest items: `tree:C`), the fields of the items above it (breadcrumbs, the unit's name and
columns in its header, the footer's site settings: `node:A` for each ancestor A) and the site
navigation (`nav`: the units). A user's pages also show the
user (`user:<login>`, .people). A change of item N touches `node:N`, `tree:A` for N and each of its
ancestors (before and after a move), the unit's header when N is one of its columns, and `nav`
when N is the root, a unit or anything else directly under the root.

The versions are bumped once per transaction, just before it commits (`bump`), in one statement
per tag in sorted order: concurrent writers take the rows' locks in the same order and only for
the commit, so they never deadlock and hardly wait.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import threading
from typing import Any, Iterable

from sqlalchemy import bindparam, select, text

from ..models import Node, Unit
from ..models.node import utcnow
from ..models.pagetags import PageTag
from .changes import mark_bumped

NAV = "nav"
SITE = "site"  # a random version per database (migration portal_0005), never bumped
INDEX_TAG = "search"  # the search index: bumped by whatever writes it (search.indexer), after the write

_BUMP = text("INSERT INTO page_tags (tag, version, changed) VALUES (:tag, 1, :now) "
             "ON CONFLICT (tag) DO UPDATE SET version = page_tags.version + 1, changed = excluded.changed")
_READ = (select(PageTag.tag, PageTag.version, PageTag.changed)
         .where(PageTag.tag.in_(bindparam("tags", expanding=True))))


def page_tags(context: Node) -> tuple[str, ...]:
    """The tags of a page whose context is `context`."""
    above = [f"node:{node.id}" for node in context.lineage() if node is not context]
    return (f"tree:{context.id}", *above, NAV, SITE)


def user_tag(login: str) -> str:
    """What a user's own pages show of them (their name, what their roles let them do), as a tag:
    bumped whenever the account, its groups, its roles or its sessions change (.people). The
    user's principal (User.principal), which is also how a local role names them."""
    return f"user:{login}"


def change_tags(node: Node, old_path: str | None = None, dbsession: Any = None) -> set[str]:
    """The tags a change of `node` touches; `old_path` (with `dbsession`) for a move."""
    lineage = list(node.lineage())
    tags = {f"node:{node.id}", *(f"tree:{n.id}" for n in lineage)}
    parent = node.parent
    if parent is None or parent.parent_id is None or isinstance(node, Unit):
        tags.add(NAV)
    if isinstance(parent, Unit):
        tags.add(f"node:{parent.id}")  # the unit's header lists its columns
    if old_path and dbsession is not None:
        tags |= {f"tree:{i}" for i in dbsession.scalars(select(Node.id).where(Node.path.in_(prefixes(old_path))))}
        if old_path.count("/") <= 2:  # it was directly under the root
            tags.add(NAV)
    return tags


def prefixes(path: str) -> list[str]:
    """'/a/b/c/' -> ['/', '/a/', '/a/b/', '/a/b/c/']"""
    parts = [p for p in path.split("/") if p]
    return ["/" + "".join(p + "/" for p in parts[:i]) for i in range(len(parts) + 1)]


def bump(connection: Any, tags: Iterable[str], now: dt.datetime | None = None) -> None:
    """Raise the version of every tag by one (in sorted order: see the module)."""
    now = now or utcnow()
    for tag in sorted(set(tags)):
        connection.execute(_BUMP, {"tag": tag, "now": now})
    mark_bumped(connection)  # the machine's change stamp is renewed after the commit (.changes)


def read_versions(connection: Any, tags: tuple[str, ...]) -> tuple[tuple[int, ...], dt.datetime | None]:
    """The tags' versions (0 for a tag never bumped) and the latest change among them."""
    rows = {tag: (version, changed) for tag, version, changed in connection.execute(_READ, {"tags": list(tags)})}
    versions = tuple(rows[t][0] if t in rows else 0 for t in tags)
    last = max((changed for _v, changed in rows.values()), default=None)
    return versions, last


class VersionReader:
    """`read_versions` of committed data for the cache's hits, through the driver itself: SQLAlchemy's
    statement machinery costs more than the query (about 0.3 ms of a 0.5 ms hit), and so does a
    pool's checkout, reset and checkin (about 40 us), or worse, when more threads serve than the
    pool keeps connections, a new connection per hit. So each serving thread keeps one connection
    of its own out of the pool, in autocommit: every query sees what is committed at that moment."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._sql = {n: f"SELECT tag, version FROM page_tags WHERE tag IN ({', '.join([mark] * n)})"
                     for n in range(1, 33)}
        self._local = threading.local()

    def _connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            proxy = self.engine.raw_connection()
            proxy.detach()  # this thread's, closed when the thread or the reader goes
            connection = proxy.dbapi_connection
            if self.engine.dialect.name != "sqlite":  # (SQLite's are in autocommit: portal.models)
                connection.autocommit = True
            self._local.connection = connection
        return connection

    def versions(self, tags: tuple[str, ...]) -> tuple[int, ...] | None:
        """The versions in `tags`' order (0 for a tag never bumped); None for more tags than the
        prepared statements take (the caller then reads them the ordinary way)."""
        sql = self._sql.get(len(tags))
        if sql is None:
            return None
        try:
            cursor = self._connection().cursor()
            cursor.execute(sql, tags)
            found = dict(cursor.fetchall())
            cursor.close()
        except Exception:
            self.close()  # a broken connection (a database restart): a new one next time
            raise
        return tuple(found.get(t, 0) for t in tags)

    def close(self) -> None:
        """Close this thread's connection."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()
