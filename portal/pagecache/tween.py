"""Which answers the page cache keeps, their validators, and Cache-Control for everyone.

The middleware (.middleware) marks a request the cache may answer (`CANDIDATE`: a GET or HEAD
without credentials, in a transaction of its own) and serves kept pages; this tween, inside
Pyramid, decides what is kept. A response is kept when it is a 200 answer of a `CACHED_TYPES`
type (a page, JSON, a feed, a sitemap, robots.txt) to a candidate, sets no cookie, and did not ask
not to be (`do_not_cache`: search results follow the index, not the database). Its tags'
versions are read when the context is found (`on_context_found`), before the view reads anything,
so a change committed while the page renders makes the entry stale, never the page wrong.

Validators: the ETag is a digest of the URL, the Accept header and the versions (the same in every
process), Last-Modified the latest change among the tags; `If-None-Match` and `If-Modified-Since`
are answered with 304, which carries no Content-Security-Policy (a browser would put a 304's
headers on the page it keeps, and the page keeps the nonce its body has). Kept answers say
`public, max-age=` (short for listings, longer for items); anything for a user with credentials
says `private, no-cache`.

A logged-in user's pages are kept too, the way plone.app.caching validates Plone's pages for
the logged-in: per session (the key holds a digest of the session
cookie, which carries the CSRF token and pending flash messages), and only for the views that ask
for it (`kept_for_users=True`: the public pages, which show nothing of the reader but what the tags
and the reader's own tag cover). Their tags add the reader's `user:<login>`, bumped whenever the
account, its groups or its sessions change (.people); the entry lives no longer than the session
and is answered `private, no-cache` with its ETag, so the browser asks every time and gets a 304.
The API's Bearer tokens are never kept.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import functools
import hashlib
import time
from typing import Any, Callable

from pyramid.response import Response

from ..models import Node
from ..security import SESSION_COOKIE, current_session
from ..settings import portal_settings
from .store import Entry
from .tags import page_tags, read_versions, user_tag

CANDIDATE = "portal.pagecache.candidate"  # environ: the request may be kept (its key)
RENDERED = "portal.pagecache.rendered"  # environ: (tags, versions, last change) read before the view
PENDING = "portal.pagecache.pending"  # environ: the Entry to keep once the whole response is known
OFF = "portal.pagecache.off"  # environ: the view asked not to be kept
PERSONAL = "portal.pagecache.personal"  # environ: the candidate is a session's (its key says which)
SESSION_ENDS = "portal.pagecache.session_ends"  # environ: when that session ends at the latest (epoch)
FOR_USERS = "portal.pagecache.for_users"  # environ: the view may be kept for a user (kept_for_users)
STATUS = "X-Portal-Cache"  # hit or miss (for operators and benchmarks)
# pages, the API's JSON, feeds (portal.feeds), sitemaps and robots.txt (portal.views.site)
CACHED_TYPES = frozenset({"text/html", "application/json", "application/rss+xml", "application/atom+xml",
                          "application/xml", "text/plain"})
VARY = "Accept, Accept-Encoding, Authorization, Cookie"


def do_not_cache(request: Any) -> None:
    """This response follows something besides the database's content (e.g. the search index)."""
    request.environ[OFF] = True


def also_shows(request: Any, *tags: str) -> None:
    """This page also shows what `tags` stand for (e.g. the search index): its versions are read
    now, before the view reads it, and the page is kept while they stay."""
    shown = request.environ.get(RENDERED)
    if shown is None:
        return
    versions, last = read_versions(request.dbsession, tags)
    request.environ[RENDERED] = (shown[0] + tags, shown[1] + versions,
                                 max((t for t in (shown[2], last) if t is not None), default=None))


def personal(request: Any) -> bool:
    return "Authorization" in request.headers or SESSION_COOKIE in request.cookies


def session_cookie(environ: dict[str, Any]) -> str | None:
    """The session cookie as the browser sent it (every one of that name), or None."""
    header = environ.get("HTTP_COOKIE", "")
    if SESSION_COOKIE not in header:
        return None
    values = [value.strip('"') for name, _, value in (part.strip().partition("=") for part in header.split(";"))
              if name == SESSION_COOKIE]
    return "\n".join(values) or None


def kept_for_users(view: Callable[..., Any], info: Any) -> Callable[..., Any]:
    """The view deriver of the view option `kept_for_users=True`: its pages may be kept per session."""
    if not info.options.get("kept_for_users"):
        return view

    def wrapper(context: Any, request: Any) -> Any:
        request.environ[FOR_USERS] = True
        return view(context, request)

    return wrapper


kept_for_users.options = ("kept_for_users",)  # type: ignore[attr-defined]


def etag_of(key: str, tags: tuple[str, ...], versions: tuple[int, ...]) -> str:
    digest = hashlib.sha1(key.encode("utf-8"))
    for tag, version in zip(tags, versions):
        digest.update(f"\n{tag}={version}".encode())
    return digest.hexdigest()[:24]


def not_modified(if_none_match: str | None, if_modified_since: str | None, entry: Entry) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when sent; else If-Modified-Since."""
    if if_none_match:
        return any(tag.strip().removeprefix("W/") in (f'"{entry.etag}"', "*") for tag in if_none_match.split(","))
    if not if_modified_since or entry.last_modified is None:
        return False
    since = email.utils.parsedate_to_datetime(if_modified_since) if "," in if_modified_since else None
    return since is not None and int(entry.last_modified) <= since.timestamp()


def validator_headers(entry: Entry) -> list[tuple[str, str]]:
    return list(_validators(entry.etag, entry.personal, entry.max_age, entry.last_modified))


@functools.lru_cache(maxsize=4096)  # the same for every hit of a version (formatdate alone is ~10 us)
def _validators(etag: str, personal: bool, max_age: int, last_modified: float | None) -> tuple[tuple[str, str], ...]:
    cache_control = "private, no-cache" if personal else f"public, max-age={max_age}"
    headers = [("ETag", f'"{etag}"'), ("Cache-Control", cache_control), ("Vary", VARY)]
    if last_modified is not None:
        headers.append(("Last-Modified", email.utils.formatdate(last_modified, usegmt=True)))
    return tuple(headers)


def on_context_found(event: Any) -> None:
    """Read the page's versions before its view reads the content (see the module)."""
    request = event.request
    if request.environ.get(CANDIDATE) is None or not isinstance(request.context, Node):
        return
    tags = page_tags(request.context)
    if request.environ.get(PERSONAL):
        if request.identity is None:
            return  # a visitor's session (a login form's CSRF token): rendered, not kept for one browser
        request.environ[SESSION_ENDS] = session_ends(request)  # now: the transaction ends before the tween
        tags += (user_tag(request.identity.login),)
    versions, last = read_versions(request.dbsession, tags)
    request.environ[RENDERED] = (tags, versions, last)


def content_type(response: Any) -> str:
    return (response.content_type or "").lower()


def epoch(moment: dt.datetime) -> float:
    """Seconds since the epoch of a stored time (naive ones are UTC: portal.models.node.utcnow)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).timestamp()


def storable(request: Any, response: Any) -> bool:
    if request.environ.get(PERSONAL) and not request.environ.get(FOR_USERS):
        return False
    return (response.status_code == 200 and RENDERED in request.environ and not request.environ.get(OFF)
            and content_type(response) in CACHED_TYPES and "Set-Cookie" not in response.headers
            and isinstance(response.app_iter, list) and not response.cache_control.private
            and not response.cache_control.no_store and response.content_encoding is None)


def session_ends(request: Any) -> float:
    """When the request's session ends at the latest: its row's expiry, or the cookie's timeout."""
    ends = [request.session.renewed + timeout] if (timeout := getattr(request.session, "_timeout", None)) else []
    row = current_session(request)
    if row is not None:
        ends.append(epoch(row.expires))
    return min(ends, default=time.time())


def page_cache_tween_factory(handler: Callable[[Any], Any], registry: Any) -> Callable[[Any], Any]:
    settings = portal_settings(registry)

    def tween(request: Any) -> Any:
        key = request.environ.get(CANDIDATE)
        response = handler(request)
        if key is not None and storable(request, response):
            tags, versions, last = request.environ[RENDERED]
            folderish = getattr(request.context, "folderish", False)
            now = time.time()
            max_age = settings.page_cache_max_age_listing if folderish else settings.page_cache_max_age_item
            is_personal = bool(request.environ.get(PERSONAL))
            if is_personal:
                max_age = max(0, min(max_age, int(request.environ[SESSION_ENDS] - now)))
            entry = Entry(key=key, tags=tags, versions=versions, etag=etag_of(key, tags, versions),
                          last_modified=epoch(last) if last else None, stored_at=now, max_age=max_age,
                          status=200, headers=(), personal=is_personal,
                          nonce=request.csp_nonce if content_type(response) == "text/html" else "", body=b"")
            if not_modified(request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since"), entry):
                return Response(status=304, headerlist=validator_headers(entry))
            request.environ[PENDING] = entry  # the middleware keeps it with the final headers
            response.headerlist.extend([*validator_headers(entry), (STATUS, "miss")])
        elif personal(request) and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "private, no-cache"
        elif "Set-Cookie" in response.headers and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "private, no-cache"
        return response

    return tween
