"""How search joins the portal: the backend in the registry, outbox rows from content events,
and draining the outbox (after each commit in development and tests, by `portal indexer` in
production, and once at start-up so nothing is lost by a crash; start-up also refills an index
that a format upgrade emptied). Every drain and rebuild goes through search.indexer's drain lock,
which makes them serial across threads and processes (see there why that keeps the index right)."""
from __future__ import annotations

import logging
from typing import Any

from pyramid.events import ApplicationCreated

from portal import events

from .indexer import OutboxBusy, drain, reindex
from .outbox import INDEX, SUBTREE, UNINDEX, enqueue, subtree_ids
from .settings import search_settings
from .whoosh_backend import IndexBusy, WhooshBackend

log = logging.getLogger(__name__)


def on_changed(event: events.ContentEvent) -> None:
    enqueue(event.request.dbsession, [event.node.id], INDEX)
    schedule_drain(event.request)


def on_subtree_changed(event: events.ContentEvent) -> None:
    """State, sharing and moves change who may see (or where is) everything below: one row, read
    as the tree is when it is applied (see search.outbox)."""
    enqueue(event.request.dbsession, [event.node.id], SUBTREE)
    schedule_drain(event.request)


def on_removed(event: events.ContentEvent) -> None:
    enqueue(event.request.dbsession, subtree_ids(event.request.dbsession, event.node), UNINDEX)
    schedule_drain(event.request)


def schedule_drain(request: Any) -> None:
    """In development, apply the outbox right after this request's transaction commits."""
    registry = request.registry
    if not search_settings(registry).drain_after_commit or getattr(request, "_search_drain_scheduled", False):
        return
    request._search_drain_scheduled = True

    def after_commit(committed: bool) -> None:
        if committed:
            drain_quietly(registry)

    request.tm.get().addAfterCommitHook(after_commit)


def drain_quietly(registry: Any) -> None:
    """Never fail a request for the index: what is not applied now stays in the outbox."""
    try:
        drain(registry, registry["dbsession_factory"], registry["search_backend"])
    except (OutboxBusy, IndexBusy):
        log.info("search index busy; the outbox will be applied by the next drain")
    except Exception:  # noqa: BLE001 - the content change is committed; the outbox keeps the work
        log.exception("applying the search outbox failed; it stays queued (run `portal indexer`)")


def rebuild_quietly(registry: Any) -> None:
    """Refill an index that lost its documents (a format upgrade) from the database."""
    backend = registry["search_backend"]
    log.warning("the search index must be rebuilt (new index format): rebuilding it from the database")
    try:
        count = reindex(registry, registry["dbsession_factory"], backend)
        log.warning("search index rebuilt: %d documents", count)
    except (OutboxBusy, IndexBusy):
        log.info("another process is rebuilding the search index")
    except Exception:  # noqa: BLE001 - start anyway; search answers from what the index has
        log.exception("rebuilding the search index failed; run `portal -c INI reindex`")


def on_start(event: ApplicationCreated) -> None:
    registry = event.app.registry
    if registry["search_backend"].needs_rebuild:
        rebuild_quietly(registry)
    drain_quietly(registry)


def includeme(config: Any) -> None:
    config.include(".settings")  # first: a bad search.* value stops the start-up before the index is opened
    settings = search_settings(config.registry)
    config.registry["search_backend"] = WhooshBackend(settings.index_dir)
    config.add_request_method(lambda request: request.registry["search_backend"], "search_backend", reify=True)
    config.add_subscriber(on_changed, events.ObjectAdded)
    config.add_subscriber(on_changed, events.ObjectModified)
    config.add_subscriber(on_subtree_changed, events.WorkflowTransitioned)
    config.add_subscriber(on_subtree_changed, events.LocalRolesChanged)
    config.add_subscriber(on_subtree_changed, events.ObjectMoved)
    config.add_subscriber(on_removed, events.ObjectRemoved)
    if settings.drain_on_start:
        config.add_subscriber(on_start, ApplicationCreated)
    config.scan("search.views")
    config.scan("search.api")
