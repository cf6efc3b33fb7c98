"""The page cache: pages rendered once per change, shared by the processes of a machine, with HTTP
validators and Cache-Control (see .tween), invalidated by the content events (see .tags); a user's
pages per session, for the views that say `kept_for_users=True`, until their content or the user
changes (.people).

Kept pages are served by a WSGI middleware in front of Pyramid (.middleware); the tween inside
decides what is kept. `portal.page_cache` chooses the store: `file` (the default: memory in front of files under
`portal.page_cache_dir`, shared by the worker processes of one machine), `memory` (one process),
or `off` (validators and Cache-Control stay; nothing is kept).
"""
from __future__ import annotations

from typing import Any

from pyramid.events import ContextFound

from .. import events
from ..settings import portal_settings
from . import people
from .changes import ChangeStamp, watch
from .middleware import PageCacheMiddleware
from .store import FileStore, MemoryStore
from .tags import INDEX_TAG, bump, change_tags
from .tween import also_shows, do_not_cache, kept_for_users, on_context_found

__all__ = ["INDEX_TAG", "also_shows", "do_not_cache", "touch", "wrap"]


class _Pending:
    """The key of the tags a transaction's changes touch (`Transaction.data`)."""


PENDING = _Pending()


def touch(request: Any, tags: set[str]) -> None:
    """Bump `tags` when the request's transaction commits (once, in sorted order: .tags.bump)."""
    txn = request.tm.get()
    try:
        pending = txn.data(PENDING)
    except KeyError:
        pending = set()
        txn.set_data(PENDING, pending)
        session = request.dbsession
        txn.addBeforeCommitHook(lambda: bump(session, pending))
    pending |= tags


def on_changed(event: events.ContentEvent) -> None:
    if event.request is not None:
        touch(event.request, change_tags(event.node))


def on_moved(event: events.ObjectMoved) -> None:
    if event.request is not None:
        touch(event.request, change_tags(event.node, event.old_path, event.request.dbsession))


def store_of(registry: Any) -> Any:
    settings = portal_settings(registry)
    if settings.page_cache == "off":
        return None
    memory = MemoryStore(settings.page_cache_memory)
    if settings.page_cache == "memory":
        return memory
    return FileStore(settings.page_cache_dir, memory)


def stamp_of(registry: Any) -> ChangeStamp | None:
    """The machine's change stamp (.changes), renewed by this process's commits; None when every
    hit asks the database (`portal.page_cache_changes = database`) or nothing is kept."""
    settings = portal_settings(registry)
    if settings.page_cache == "off" or settings.page_cache_changes != "file":
        return None
    stamp = ChangeStamp(settings.page_cache_dir / "changes")
    watch(registry["dbsession_factory"].kw["bind"], stamp)
    return stamp


def wrap(app: Any) -> PageCacheMiddleware:
    """The app behind the cache's middleware (portal.main)."""
    registry = app.registry
    return PageCacheMiddleware(app, registry["portal.page_store"], registry["dbsession_factory"].kw["bind"],
                               registry["portal.page_changes"])


def includeme(config: Any) -> None:
    config.registry["portal.page_store"] = store_of(config.registry)
    config.registry["portal.page_changes"] = stamp_of(config.registry)
    for kind in (events.ObjectAdded, events.ObjectModified, events.ObjectRemoved,
                 events.WorkflowTransitioned, events.LocalRolesChanged):
        config.add_subscriber(on_changed, kind)
    config.add_subscriber(on_moved, events.ObjectMoved)
    config.add_subscriber(on_context_found, ContextFound)
    config.add_view_deriver(kept_for_users)
    people.listen(config.registry["dbsession_factory"])
    config.add_tween("portal.pagecache.tween.page_cache_tween_factory",
                     under="portal.models.reading_tween", over="pyramid_tm.tm_tween_factory")
