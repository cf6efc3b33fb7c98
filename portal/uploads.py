"""Uploads for forms and the API alike: one colander type stores the bytes in the blob store.

A deform upload arrives as `{"fp", "filename", "mimetype"}`, an API upload as plone.restapi's
`{"data", "encoding": "base64", "filename", "content-type"}`. Either way the value becomes a blob
reference `{"hash", "filename", "content_type", "size"[, "width", "height"]}`. A failed request is
aborted, and the blob store removes what that transaction wrote (see portal.blobs).
"""
from __future__ import annotations

import base64
import binascii
import mimetypes
import ntpath
from typing import Any

import colander
import deform

from .blobs import BlobTooLarge
from .i18n import _
from .images import ImageError, normalize_image
from .settings import portal_settings

IMAGE_ERRORS = {
    "not_image": _("This file is not an image (JPEG, PNG, GIF or WebP)"),
    "truncated": _("This image is damaged or incomplete"),
    "bomb": _("This image has too many pixels"),
    "unsupported": _("This image format is not supported; use JPEG, PNG, GIF or WebP"),
}


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)


def clean_filename(name: str | None, default: str = "file") -> str:
    name = ntpath.basename((name or "").replace("/", "\\")).strip().replace("\x00", "")
    return name[:200] or default


class Upload(colander.SchemaType):
    def __init__(self, request: Any, image: bool = False) -> None:
        self.request = request
        self.image = image

    def serialize(self, node: colander.SchemaNode, appstruct: Any) -> Any:
        return colander.null

    def _read(self, node: colander.SchemaNode, cstruct: Any, limit: int) -> tuple[bytes, str, str | None]:
        if isinstance(cstruct, dict) and cstruct.get("fp") is not None:
            data = cstruct["fp"].read(limit + 1)
            return data, clean_filename(cstruct.get("filename")), cstruct.get("mimetype")
        if isinstance(cstruct, dict) and "data" in cstruct:
            if cstruct.get("encoding", "base64") != "base64" or not isinstance(cstruct["data"], str):
                raise colander.Invalid(node, _("File data must be a base64 string"))
            try:
                data = base64.b64decode(cstruct["data"], validate=True)
            except (binascii.Error, ValueError):
                raise colander.Invalid(node, _("File data is not valid base64")) from None
            ctype = cstruct.get("content-type")
            return data, clean_filename(cstruct.get("filename")), ctype if isinstance(ctype, str) else None
        raise colander.Invalid(node, _("Not a file upload"))

    def deserialize(self, node: colander.SchemaNode, cstruct: Any) -> Any:
        if cstruct in (colander.null, None, ""):
            return colander.null
        limit = portal_settings(self.request.registry).max_upload_size
        data, filename, ctype = self._read(node, cstruct, limit)
        if len(data) > limit:
            raise colander.Invalid(node, _("The file is larger than the limit of ${limit}",
                                           mapping={"limit": human_size(limit)}))
        if not data:
            raise colander.Invalid(node, _("The file is empty"))
        ref: dict[str, Any] = {}
        if self.image:
            try:
                data, ctype, width, height = normalize_image(data)
            except ImageError as e:
                raise colander.Invalid(node, IMAGE_ERRORS.get(e.reason, IMAGE_ERRORS["not_image"])) from None
            ref.update(width=width, height=height)
        else:
            ctype = mimetypes.guess_type(filename)[0] or ctype or "application/octet-stream"
        try:
            digest, size, _created = self.request.blobs.put(data, max_size=limit)
        except BlobTooLarge:
            raise colander.Invalid(node, _("The file is larger than the limit of ${limit}",
                                           mapping={"limit": human_size(limit)})) from None
        return {"hash": digest, "filename": filename, "content_type": ctype, "size": size, **ref}


class MemoryTmpStore(dict):
    """deform's upload widget wants a store; a re-shown form simply asks for the file again."""

    def preview_url(self, uid: str) -> None:
        return None


def upload_node(request: Any, name: str, title: Any, image: bool = False, required: bool = True,
                existing: Any = None) -> colander.SchemaNode:
    """An upload field; when editing, leaving it empty keeps the current file (`...`)."""
    missing: Any = colander.required if (required and existing is None) else Ellipsis
    current = getattr(existing, name, None) if existing is not None else None
    description = _("Current file: ${name}", mapping={"name": current["filename"]}) if current else ""
    return colander.SchemaNode(Upload(request, image=image), name=name, title=title, missing=missing,
                               description=description,
                               widget=deform.widget.FileUploadWidget(MemoryTmpStore()))
