"""Uploads for forms and the API alike: one colander type stores the bytes in the blob store.

A deform upload arrives as `{"fp", "filename", "mimetype"}`, an API upload as plone.restapi's
`{"data", "encoding": "base64", "filename", "content-type"}`. Either way the value becomes a blob
reference `{"hash", "filename", "content_type", "size"[, "width", "height"]}`. A failed request is
aborted, and the blob store removes what that transaction wrote (see portal.blobs).

What may be uploaded is decided here and only here. The client's media type is never read: a
browser or script sends whatever it likes (`image/png,image/svg+xml` once went out inline and ran
as a page). The server decides from the content (magic bytes, the structure of ZIP containers,
text that decodes) *and* the file name's extension, and accepts exactly one type of `FILE_TYPES`;
a file whose content and extension disagree, or that matches nothing on the list, is refused with
a message naming it. Pictures for Image and lead-image fields are decoded and re-encoded by
Pillow instead (portal.images), which decides their type. How each type is served (inline or as
a download) is `INLINE_TYPES`, read by portal.views.files.

Why our own signature table rather than `filetype` (PyPI, last release 2022): it does not know
the WPS Office formats (.wps/.et/.dps, OLE2 files like Word 97's), OFD (GB/T 33190, the national
layout-document format of government documents) or plain text, and guesses Word/Excel/PowerPoint
97 from bytes that vary between writers. Every type below is one prefix, one container check or
the text check, each with a test (tests/unit/test_uploads.py).
"""
from __future__ import annotations

import base64
import binascii
import io
import ntpath
import re
import struct
import unicodedata
import zipfile
from typing import Any

import colander
import deform

from .blobs import BlobTooLarge
from .i18n import _
from .images import ALLOWED_FORMATS, ImageError, normalize_image
from .settings import portal_settings

# Extension -> media type: everything a government portal's editors attach (documents, tables,
# slides, archives, scans and photos). Nothing a browser runs as a page (HTML, SVG, XML, scripts)
# and no executables or macro-enabled Office files.
FILE_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "ofd": "application/ofd",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "wps": "application/wps-office.wps",  # WPS Office 文字
    "et": "application/wps-office.et",  # WPS Office 表格
    "dps": "application/wps-office.dps",  # WPS Office 演示
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "txt": "text/plain",
    "csv": "text/csv",
    "zip": "application/zip",
    "rar": "application/vnd.rar",
    "7z": "application/x-7z-compressed",
    "jpg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "bmp": "image/bmp",
    "tif": "image/tiff",
}
EXTENSION_ALIASES = {"jpeg": "jpg", "jpe": "jpg", "tiff": "tif"}

# The only types served inline (shown in the browser); everything else is a download. Exact media
# types: a browser renders these as a picture or in its PDF viewer, never as a page of our origin.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"})

OLE_TYPES = ("doc", "xls", "ppt", "wps", "et", "dps")  # one container format: the extension decides
MAX_ZIP_ENTRIES = 20_000  # above this the central directory is not read (memory): a plain .zip

IMAGE_ERRORS = {
    "not_image": _("This file is not an image (JPEG, PNG, GIF or WebP)"),
    "truncated": _("This image is damaged or incomplete"),
    "bomb": _("This image has too many pixels"),
    "unsupported": _("This image format is not supported; use JPEG, PNG, GIF or WebP"),
}
FILE_ERRORS = {
    "not_allowed": _("“${name}” cannot be uploaded: files of type .${ext} are not accepted. "
                     "Accepted types: ${allowed}"),
    "mismatch": _("“${name}” cannot be uploaded: its content is not a .${ext} file"),
    "unknown": _("“${name}” cannot be uploaded: its type is not one of the accepted types (${allowed})"),
    "no_extension": _("“${name}” cannot be uploaded: give the file name its extension (${allowed})"),
}


class UploadRefused(ValueError):
    """The upload is not one of the accepted types; `reason` is a key of FILE_ERRORS."""

    def __init__(self, reason: str, filename: str, extension: str = "") -> None:
        super().__init__(f"{reason}: {filename!r}")
        self.reason = reason
        self.filename = filename
        self.extension = extension


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)


# Control, format (bidi overrides, zero-width), surrogate and line/paragraph separator characters:
# invisible, they make a name read differently than it is ("report\u202Efdp.exe") or split headers.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
MAX_FILENAME = 200


def clean_filename(name: str | None, default: str = "file") -> str:
    """The name to store: no directory, no invisible characters, at most 200 characters (the
    extension kept), no leading or trailing dots and blanks."""
    name = ntpath.basename((name or "").replace("/", "\\"))
    name = unicodedata.normalize("NFC", name)
    name = "".join(" " if unicodedata.category(ch) == "Zs" else ch for ch in name
                   if unicodedata.category(ch) not in _INVISIBLE)
    name = " ".join(name.split()).strip(" .")
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and len(ext) <= 10:
            name = stem[:MAX_FILENAME - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:MAX_FILENAME].rstrip(" .")
    return name or default


def extension_of(filename: str) -> str:
    """The lower-case extension, aliases resolved (`JPEG` -> `jpg`); "" when there is none."""
    stem, dot, ext = filename.rpartition(".")
    if not dot or not stem:
        return ""
    ext = ext.lower()
    return EXTENSION_ALIASES.get(ext, ext)


# -- what the content is ---------------------------------------------------------------------

_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "pdf"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # an empty archive
    (b"Rar!\x1a\x07\x00", "rar"),
    (b"Rar!\x1a\x07\x01\x00", "rar"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"\xff\xd8\xff", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tif"),
    (b"MM\x00*", "tif"),
)
_BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})
HEAD_SIZE = 64  # bytes `magic` needs


def magic(head: bytes) -> str | None:
    """The format family of the first bytes: an extension of FILE_TYPES, "ole", or None."""
    for prefix, kind in _PREFIXES:
        if head.startswith(prefix):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:2] == b"BM" and len(head) >= 18 and struct.unpack("<I", head[14:18])[0] in _BMP_HEADER_SIZES:
        return "bmp"
    return None


def _zip_entry_count(data: bytes) -> int | None:
    """Entries the end-of-central-directory record announces (None: no record, or ZIP64)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 22 > len(data):
        return None
    count = struct.unpack("<H", data[end + 10:end + 12])[0]
    return None if count == 0xFFFF else count


def _zip_kinds(data: bytes) -> tuple[str, ...]:
    """What a ZIP container is, most specific first; () if it is not a readable archive."""
    odf = {b"application/vnd.oasis.opendocument.text": "odt",
           b"application/vnd.oasis.opendocument.spreadsheet": "ods",
           b"application/vnd.oasis.opendocument.presentation": "odp"}
    if data[30:38] == b"mimetype":  # ODF: an uncompressed "mimetype" entry comes first
        size = struct.unpack("<I", data[18:22])[0]
        kind = odf.get(bytes(data[38:38 + size]).strip())
        if kind:
            return kind, "zip"
    count = _zip_entry_count(data)
    if count is None:
        return ()
    if count > MAX_ZIP_ENTRIES:
        return ("zip",)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, NotImplementedError):
        return ()
    if "[Content_Types].xml" in names:
        for folder, kind in (("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx")):
            if any(n.startswith(folder) for n in names):
                return kind, "zip"
    if "OFD.xml" in names:
        return "ofd", "zip"
    return ("zip",)


_TEXT_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_MARKUP_START = re.compile(r"\s*<[!?/a-zA-Z]")


def _text(data: bytes) -> str | None:
    """The text of a plain-text file (UTF-8, UTF-16 with a byte-order mark, or GB18030, as Chinese
    Windows writes it), or None: binary, or markup a browser might sniff as a page."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            return None
        if any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f" for ch in text[:4096]):
            return None
    else:
        if _TEXT_CONTROLS.search(data):
            return None
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            return None
    return None if _MARKUP_START.match(text) else text


def sniff(data: bytes) -> tuple[tuple[str, ...], str | None]:
    """The extensions the content may have, and the one a file without an extension gets (None:
    the content alone cannot tell, as for the OLE2 formats)."""
    kind = magic(data[:HEAD_SIZE])
    if kind == "ole":
        return OLE_TYPES, None
    if kind == "zip":
        kinds = _zip_kinds(data)
        return kinds, (kinds[0] if kinds else None)
    if kind is not None:
        return (kind,), kind
    if _text(data) is not None:
        return ("txt", "csv"), "txt"
    return (), None


def file_type(filename: str, data: bytes) -> tuple[str, str]:
    """`(media type, file name)` of an accepted upload: the name gains the extension when it had
    none. Raises UploadRefused."""
    ext = extension_of(filename)
    if ext and ext not in FILE_TYPES:
        raise UploadRefused("not_allowed", filename, ext)
    kinds, default = sniff(data)
    if not ext:
        if default is None:
            raise UploadRefused("no_extension" if kinds else "unknown", filename)
        return FILE_TYPES[default], f"{filename}.{default}"
    if ext not in kinds:
        raise UploadRefused("mismatch", filename, ext)
    return FILE_TYPES[ext], filename


def content_is(media_type: str, head: bytes) -> bool:
    """Whether the first bytes of a stored file are of `media_type` (one of INLINE_TYPES): a file
    stored before types were checked is shown inline only if it really is what it claims."""
    kind = magic(head)
    return kind is not None and FILE_TYPES.get(kind) == media_type


def image_filename(filename: str, media_type: str) -> str:
    """The name of a re-encoded picture, with the extension of what it now is."""
    fmt = next(f for f, t in ALLOWED_FORMATS.items() if t == media_type)
    ext = {"JPEG": "jpg"}.get(fmt, fmt.lower())
    if extension_of(filename) == ext:
        return filename
    stem = filename.rpartition(".")[0] if extension_of(filename) else filename
    return f"{stem or 'image'}.{ext}"


def refusal(error: UploadRefused) -> Any:
    """The message for people, naming the file."""
    return _(FILE_ERRORS[error.reason], mapping={"name": error.filename, "ext": error.extension,
                                                 "allowed": ", ".join(FILE_TYPES)})


class Upload(colander.SchemaType):
    def __init__(self, request: Any, image: bool = False) -> None:
        self.request = request
        self.image = image

    def serialize(self, node: colander.SchemaNode, appstruct: Any) -> Any:
        return colander.null

    def _read(self, node: colander.SchemaNode, cstruct: Any, limit: int) -> tuple[bytes, str]:
        """The bytes and the cleaned file name; the client's media type is ignored on purpose."""
        if isinstance(cstruct, dict) and cstruct.get("fp") is not None:
            data = cstruct["fp"].read(limit + 1)
            return data, clean_filename(cstruct.get("filename"))
        if isinstance(cstruct, dict) and "data" in cstruct:
            if cstruct.get("encoding", "base64") != "base64" or not isinstance(cstruct["data"], str):
                raise colander.Invalid(node, _("File data must be a base64 string"))
            try:
                data = base64.b64decode(cstruct["data"], validate=True)
            except (binascii.Error, ValueError):
                raise colander.Invalid(node, _("File data is not valid base64")) from None
            filename = cstruct.get("filename")
            return data, clean_filename(filename if isinstance(filename, str) else None)
        raise colander.Invalid(node, _("Not a file upload"))

    def deserialize(self, node: colander.SchemaNode, cstruct: Any) -> Any:
        if cstruct in (colander.null, None, ""):
            return colander.null
        limit = portal_settings(self.request.registry).max_upload_size
        data, filename = self._read(node, cstruct, limit)
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
            filename = image_filename(filename, ctype)
            ref.update(width=width, height=height)
        else:
            try:
                ctype, filename = file_type(filename, data)
            except UploadRefused as e:
                raise colander.Invalid(node, refusal(e)) from None
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
