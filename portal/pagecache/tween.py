"""Anonymous pages from the cache, HTTP validators, and Cache-Control for everyone.

A request may be answered from the cache when it is a GET or HEAD without credentials (no
Authorization header, no session cookie) in a transaction of its own (not a script's or a test's,
whose changes are not committed). Its key is the URL and the Accept header (pages and the JSON
API share URLs). An entry is served only when its tags' versions in the database are still the
ones it was rendered with and its max-age has not passed (one indexed query); otherwise the page
is rendered and stored again.

Rendered pages are stored when they are a 200 HTML or JSON answer to such a request, set no
cookie, and did not ask not to be (`do_not_cache`: search results follow the index, not the
database). Their versions are read when the context is found (`on_context_found`), before the
view reads anything, so a change committed while the page renders makes the entry stale, never
the page wrong.

Validators: the ETag is a digest of the URL, the Accept header and the versions (the same in
every process), Last-Modified the latest change among the tags; `If-None-Match` and
`If-Modified-Since` are answered with 304, which carries no Content-Security-Policy (a browser
would put a 304's headers on the page it keeps, and the page keeps the nonce its body has).
Cacheable answers say `public, max-age=` (short for listings, longer for items); anything for a
user with credentials says `private, no-cache`.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import time
from typing import Any, Callable

from pyramid.response import Response

from ..headers import CSP
from ..models import Node
from ..settings import portal_settings
from .store import Entry, Store
from .tags import page_tags, read_versions

CANDIDATE = "portal.pagecache.candidate"  # environ: the request may be cached (its key)
RENDERED = "portal.pagecache.rendered"  # environ: (tags, versions, last change) read before the view
OFF = "portal.pagecache.off"  # environ: the view asked not to be cached
SESSION_COOKIE = "portal_session"
CACHED_TYPES = frozenset({"text/html", "application/json"})
VARY = "Accept, Accept-Encoding, Authorization, Cookie"
MAX_KEY = 2048
STATUS = "X-Portal-Cache"  # hit, or miss when the page was rendered and kept (for operators and benchmarks)


def do_not_cache(request: Any) -> None:
    """This response follows something besides the database's content (e.g. the search index)."""
    request.environ[OFF] = True


def cache_key(request: Any) -> str | None:
    """The request's key, or None when it may not be answered from the cache."""
    if request.method not in ("GET", "HEAD") or "app.dbsession" in request.environ:
        return None
    if "Authorization" in request.headers or SESSION_COOKIE in request.cookies:
        return None
    key = f"{request.host_url}{request.path_qs}\n{request.headers.get('Accept', '')}"
    return key if len(key) <= MAX_KEY else None


def personal(request: Any) -> bool:
    return "Authorization" in request.headers or SESSION_COOKIE in request.cookies


def etag_of(key: str, tags: tuple[str, ...], versions: tuple[int, ...]) -> str:
    digest = hashlib.sha1(key.encode("utf-8"))
    for tag, version in zip(tags, versions):
        digest.update(f"\n{tag}={version}".encode())
    return digest.hexdigest()[:24]


def not_modified(request: Any, etag: str, last_modified: float | None) -> bool:
    if request.if_none_match:
        return etag in request.if_none_match
    since = request.if_modified_since
    return since is not None and last_modified is not None and int(last_modified) <= since.timestamp()


def validator_headers(entry: Entry) -> list[tuple[str, str]]:
    headers = [("ETag", f'"{entry.etag}"'), ("Cache-Control", f"public, max-age={entry.max_age}"), ("Vary", VARY)]
    if entry.last_modified is not None:
        headers.append(("Last-Modified", email.utils.formatdate(entry.last_modified, usegmt=True)))
    return headers


def respond(request: Any, entry: Entry) -> Response:
    """The entry as a response: a 304 when the client has it, else the body with a new nonce."""
    if not_modified(request, entry.etag, entry.last_modified):
        return Response(status=304, headerlist=validator_headers(entry))
    body, headers = entry.body, list(entry.headers)
    if entry.nonce:
        nonce = request.csp_nonce
        body = body.replace(entry.nonce.encode(), nonce.encode())
        headers = [(k, v.replace(entry.nonce, nonce) if k == CSP else v) for k, v in headers]
    response = Response(status=entry.status, headerlist=[*headers, *validator_headers(entry), (STATUS, "hit")])
    response.body = body
    return response


def on_context_found(event: Any) -> None:
    """Read the page's versions before its view reads the content (see the module)."""
    request = event.request
    if request.environ.get(CANDIDATE) is None or not isinstance(request.context, Node):
        return
    tags = page_tags(request.context)
    versions, last = read_versions(request.dbsession, tags)
    request.environ[RENDERED] = (tags, versions, last)


def content_type(response: Any) -> str:
    return (response.content_type or "").lower()


def epoch(moment: dt.datetime) -> float:
    """Seconds since the epoch of a stored time (naive ones are UTC: portal.models.node.utcnow)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).timestamp()


def storable(request: Any, response: Any) -> bool:
    return (response.status_code == 200 and RENDERED in request.environ and not request.environ.get(OFF)
            and content_type(response) in CACHED_TYPES and "Set-Cookie" not in response.headers
            and isinstance(response.app_iter, list) and not response.cache_control.private
            and not response.cache_control.no_store and response.content_encoding is None)


def page_cache_tween_factory(handler: Callable[[Any], Any], registry: Any) -> Callable[[Any], Any]:
    settings = portal_settings(registry)
    store: Store | None = registry.get("portal.page_store")
    engine = registry["dbsession_factory"].kw["bind"]

    def lookup(key: str) -> Entry | None:
        entry = store.get(key) if store is not None else None
        if entry is None or not entry.fresh():
            return None
        with engine.connect() as connection:
            versions, _last = read_versions(connection, entry.tags)
        return entry if versions == entry.versions else None

    def tween(request: Any) -> Any:
        key = cache_key(request)
        if key is not None and store is not None:
            entry = lookup(key)
            if entry is not None:
                return respond(request, entry)
        if key is not None:
            request.environ[CANDIDATE] = key
        response = handler(request)
        if key is not None and storable(request, response):
            tags, versions, last = request.environ[RENDERED]
            folderish = getattr(request.context, "folderish", False)
            entry = Entry(key=key, tags=tags, versions=versions, etag=etag_of(key, tags, versions),
                          last_modified=epoch(last) if last else None,
                          stored_at=time.time(),
                          max_age=settings.page_cache_max_age_listing if folderish else settings.page_cache_max_age_item,
                          status=response.status_code, headers=tuple(response.headerlist),
                          nonce=request.csp_nonce if content_type(response) == "text/html" else "",
                          body=response.body)
            if store is not None:
                store.put(entry)
            if not_modified(request, entry.etag, entry.last_modified):
                return respond(request, entry)
            response.headerlist.extend([*validator_headers(entry), (STATUS, "miss")])
        elif personal(request) and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "private, no-cache"
        elif "Set-Cookie" in response.headers and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "private, no-cache"
        return response

    return tween
