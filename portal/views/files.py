"""Downloads and image scales of any blob field: `@@download/<field>[/<n>]`, `@@images/<field>[/<scale>]`.

Responses support Range (WebOb's conditional responses), carry the Chinese file name in
Content-Disposition, and never let a stored file be sniffed or rendered as a page of this site.
"""
from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPNotFound
from pyramid.response import FileResponse
from pyramid.view import view_config

from ..blobs import content_disposition
from ..images import SCALES, scaled
from ..models import Node

# Types a browser would run as a page of our origin: always offered as downloads.
ACTIVE_TYPES = ("text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
                "text/javascript", "application/javascript")


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


def file_response(request: Any, path: Any, content_type: str, filename: str, inline: bool) -> Any:
    content_type = content_type.split(";")[0].strip().lower() or "application/octet-stream"
    inline = inline and content_type not in ACTIVE_TYPES
    response = FileResponse(str(path), request=request, content_type=content_type, cache_max_age=3600)
    response.headers["Content-Disposition"] = content_disposition(filename, inline=inline)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Accept-Ranges"] = "bytes"
    return response


@view_config(context=Node, name="download", permission="view")
def download(context: Node, request: Any) -> Any:
    ref, _rest = blob_ref(context, request.subpath)
    path = request.blobs.path(ref["hash"])
    if not path.is_file():
        raise HTTPNotFound()
    inline = ref["content_type"].startswith("image/") or ref["content_type"] == "application/pdf"
    return file_response(request, path, ref["content_type"], ref["filename"], inline)


@view_config(context=Node, name="images", permission="view")
def images(context: Node, request: Any) -> Any:
    ref, rest = blob_ref(context, request.subpath)
    if "width" not in ref:
        raise HTTPNotFound()
    if rest and rest[0] not in SCALES:
        raise HTTPNotFound()
    try:
        if rest:
            path, mimetype = scaled(request.blobs, ref["hash"], rest[0])
        else:
            path, mimetype = request.blobs.path(ref["hash"]), ref["content_type"]
    except (FileNotFoundError, ValueError):
        raise HTTPNotFound() from None
    return file_response(request, path, mimetype, ref["filename"], inline=True)
