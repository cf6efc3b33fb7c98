"""gzip for text responses the client accepts it for (waitress compresses nothing).

Pages, JSON, feeds and scripts shrink 4-8 times; stored files and image scales are left alone
(already compressed, or streamed from disk, where a range request must see the stored bytes).
"""
from __future__ import annotations

import gzip
from functools import lru_cache
from typing import Any, Callable

from webob.acceptparse import create_accept_encoding_header

MIN_SIZE = 1024  # below this, the gzip header and the CPU cost more than they save
COMPRESSIBLE = ("text/", "application/json", "application/ld+json", "application/xml",
                "application/rdf+xml", "application/rss+xml", "application/atom+xml",
                "application/javascript", "image/svg+xml")


def accepts_gzip(request: Any) -> bool:
    """Only a client that says so: WebOb reads a missing Accept-Encoding as "anything", but curl,
    load generators and old tools send none and expect the bytes as they are."""
    if "Accept-Encoding" not in request.headers:
        return False
    return bool(request.accept_encoding.acceptable_offers(["gzip"]))


@lru_cache(maxsize=256)
def header_accepts_gzip(header: str | None) -> bool:
    """`accepts_gzip` from the raw header (portal.pagecache.middleware serves before WebOb)."""
    if header is None:
        return False
    return bool(create_accept_encoding_header(header).acceptable_offers(["gzip"]))


def compressible_type(content_type: str) -> bool:
    return content_type.lower().startswith(COMPRESSIBLE)


def gzip_bytes(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=6, mtime=0)


def compressible(request: Any, response: Any) -> bool:
    content_type = (response.content_type or "").lower()
    return (response.status_code == 200 and accepts_gzip(request)
            and "Content-Encoding" not in response.headers and content_type.startswith(COMPRESSIBLE)
            and response.app_iter is not None and isinstance(response.app_iter, list)
            and (response.content_length or 0) >= MIN_SIZE)


def compression_tween_factory(handler: Callable[[Any], Any], registry: Any) -> Callable[[Any], Any]:
    def compression_tween(request: Any) -> Any:
        response = handler(request)
        if compressible(request, response) and "portal.pagecache.pending" not in request.environ:
            # (a page the cache keeps is kept whole and compressed on its way out: pagecache.middleware)
            response.encode_content("gzip", lazy=False)
            response.vary = tuple(dict.fromkeys((*(response.vary or ()), "Accept-Encoding")))
        return response
    return compression_tween


def includeme(config: Any) -> None:
    # over the page cache, so that pages it answers are compressed too
    config.add_tween("portal.compression.compression_tween_factory",
                     over="portal.pagecache.tween.page_cache_tween_factory")
