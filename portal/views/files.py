"""Downloads and image scales of any blob field: `@@download/<field>[/<n>]`, `@@images/<field>[/<scale>]`.

Responses support Range (WebOb's conditional responses), carry the Chinese file name in
Content-Disposition, and never let a stored file be sniffed or rendered as a page of this site.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pyramid.httpexceptions import HTTPForbidden, HTTPNotFound
from pyramid.response import FileResponse
from pyramid.view import view_config

from ..blobs import content_disposition
from ..headers import CSP, file_policy
from ..images import SCALES, scaled
from ..models import Node
from ..registry import type_info
from ..uploads import FILE_TYPES, HEAD_SIZE, INLINE_TYPES, content_is

SERVABLE_TYPES = frozenset(FILE_TYPES.values())


def blob_ref(context: Node, subpath: tuple[str, ...]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The blob reference named by the subpath (field, and an index for list fields)."""
    if not subpath or subpath[0] not in context.fields:
        raise HTTPNotFound()
    value, rest = getattr(context, subpath[0]), subpath[1:]
    if isinstance(value, list):
        try:
            value, rest = value[int(rest[0])], rest[1:]
        except (IndexError, ValueError):
            raise HTTPNotFound() from None
    if not isinstance(value, dict) or "hash" not in value:
        raise HTTPNotFound()
    return value, rest


def served_as(stored_type: Any, path: Path) -> tuple[str, bool]:
    """`(media type, inline)` of a stored file, decided now from exact allowlists, whatever was
    stored: rows written before uploads were checked may hold `image/png,image/svg+xml`. A type
    not of portal.uploads.FILE_TYPES goes out as application/octet-stream; only INLINE_TYPES whose
    content really is that type are shown inline."""
    media = stored_type if isinstance(stored_type, str) else ""
    if media not in SERVABLE_TYPES:
        return "application/octet-stream", False
    if media not in INLINE_TYPES:
        return media, False
    with open(path, "rb") as f:
        return media, content_is(media, f.read(HEAD_SIZE))


def file_response(request: Any, path: Path, content_type: str, filename: str, inline: bool) -> Any:
    """A stored file: never sniffed (nosniff), never a page of this site (its own policy)."""
    response = FileResponse(str(path), request=request, content_type=content_type, cache_max_age=3600)
    if content_type.startswith("text/"):
        response.charset = None  # stored bytes, in whatever encoding they were written (UTF-8, GB18030)
    response.headers["Content-Disposition"] = content_disposition(filename, inline=inline)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Accept-Ranges"] = "bytes"
    response.headers[CSP] = file_policy(content_type, inline)
    return response


def check_download(context: Node, request: Any) -> None:
    """Files beyond `view`: the type's `may_download` decides (portal.registry.TypeInfo)."""
    info = type_info(request.registry, context.type)
    if info is not None and info.may_download is not None and not info.may_download(request, context):
        raise HTTPForbidden()


@view_config(context=Node, name="download", permission="view")
def download(context: Node, request: Any) -> Any:
    check_download(context, request)
    ref, _rest = blob_ref(context, request.subpath)
    try:
        path = request.blobs.path(ref["hash"])
    except ValueError:
        raise HTTPNotFound() from None
    if not path.is_file():
        raise HTTPNotFound()
    media, inline = served_as(ref.get("content_type"), path)
    return file_response(request, path, media, str(ref.get("filename") or ""), inline)


@view_config(context=Node, name="images", permission="view")
def images(context: Node, request: Any) -> Any:
    check_download(context, request)
    ref, rest = blob_ref(context, request.subpath)
    if "width" not in ref:
        raise HTTPNotFound()
    if rest and rest[0] not in SCALES:
        raise HTTPNotFound()
    try:
        if rest:
            path, media = scaled(request.blobs, ref["hash"], rest[0])
        else:
            path, media = request.blobs.path(ref["hash"]), ref.get("content_type")
        media, inline = served_as(media, path)
    except (FileNotFoundError, ValueError):
        raise HTTPNotFound() from None
    return file_response(request, path, media, str(ref.get("filename") or ""), inline)
