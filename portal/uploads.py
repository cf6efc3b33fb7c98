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
import json
import ntpath
import re
import secrets
import shutil
import struct
import time
import unicodedata
import zipfile
from pathlib import Path
from types import SimpleNamespace
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
        if isinstance(cstruct, KeptFile) and "hash" in cstruct:  # a file the item has (FileListWidget)
            return dict(cstruct)
        limit = portal_settings(self.request.registry).max_upload_size
        try:
            data, filename = self._read(node, cstruct, limit)
        finally:
            if isinstance(cstruct, KeptFile) and cstruct.get("fp") is not None:
                cstruct["fp"].close()  # a stashed file, opened for this request
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
        if isinstance(cstruct, dict) and isinstance(cstruct.get("title"), str):  # forms; the API may send one
            ref["title"] = clean_title(cstruct["title"], filename)
        return {"hash": digest, "filename": filename, "content_type": ctype, "size": size, **ref}


def upload_node(request: Any, name: str, title: Any, image: bool = False, required: bool = True,
                existing: Any = None) -> colander.SchemaNode:
    """An upload field; when editing, leaving it empty keeps the current file (`...`). A file
    chosen in a form that is refused for another field is kept (StashTmpStore)."""
    missing: Any = colander.required if (required and existing is None) else Ellipsis
    current = getattr(existing, name, None) if existing is not None else None
    description = _("Current file: ${name}", mapping={"name": current["filename"]}) if current else ""
    limit = human_size(portal_settings(request.registry).max_upload_size)
    description = _("${current} Up to ${limit}.", mapping={"current": request.localizer.translate(description),
                                                           "limit": limit}) if description else \
        _("Up to ${limit}.", mapping={"limit": limit})
    return colander.SchemaNode(Upload(request, image=image), name=name, title=title, missing=missing,
                               description=description,
                               widget=deform.widget.FileUploadWidget(StashTmpStore(request),
                                                                     template="file_upload_kept"))


# -- files kept across a refused form ---------------------------------------------------------------

STASH_HOURS = 24  # how long a file of a refused form waits for the form to be sent again
_STASH_UID = re.compile(r"[A-Za-z0-9_-]{22}")


class UploadStash:
    """The files of a form that was refused for another field's sake, kept until it is sent again.

    Why not deform's tmpstore in memory: a refused request is rolled back (its blobs are removed,
    portal.blobs) and the next request may be served by another thread or process, so the bytes
    are kept on disk next to the blobs (`<blobs>/stash/`, the same shared storage a second app
    process uses), under a random 128-bit name and with the login of the user who sent them: a
    name seen by someone else opens nothing. Only files that passed every check are kept, so a
    refused file (too large, a type not accepted) leaves nothing behind. Kept files older than
    STASH_HOURS are removed whenever another one is kept.
    """

    def __init__(self, root: Any, owner: str | None) -> None:
        self.dir = Path(root) / "stash"
        self.owner = owner or ""

    def _paths(self, uid: str) -> tuple[Path, Path]:
        return self.dir / f"{uid}.bin", self.dir / f"{uid}.json"

    def keep(self, fp: Any, filename: str) -> str:
        """Copy the upload `fp` (from its start) into the stash; its uid."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.purge()
        uid = secrets.token_urlsafe(16)
        data_path, meta_path = self._paths(uid)
        fp.seek(0)
        with open(data_path, "xb") as out:
            shutil.copyfileobj(fp, out)
            size = out.tell()
        meta_path.write_text(json.dumps({"filename": filename, "size": size, "owner": self.owner}),
                             encoding="utf-8")
        return uid

    def load(self, uid: Any) -> dict[str, Any] | None:
        """`{"fp", "filename", "size"}` of a kept file of this user, or None (unknown, expired, another's)."""
        if not isinstance(uid, str) or not _STASH_UID.fullmatch(uid):
            return None
        data_path, meta_path = self._paths(uid)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("owner") != self.owner or time.time() - meta_path.stat().st_mtime > STASH_HOURS * 3600:
                return None
            return {"fp": open(data_path, "rb"), "filename": meta["filename"], "size": meta.get("size")}
        except (OSError, ValueError, KeyError):
            return None

    def purge(self) -> None:
        limit = time.time() - STASH_HOURS * 3600
        for path in self.dir.glob("*.*"):
            try:
                if path.stat().st_mtime < limit:
                    path.unlink()
            except OSError:
                pass


def upload_stash(request: Any) -> UploadStash:
    return UploadStash(request.registry["blobstore"].root, request.authenticated_userid)


class KeptFile(dict):
    """A file the item already has (or one kept in the stash, `uid`), as a form sends it back.

    A class of its own, never a plain dict: JSON bodies only make plain dicts, so an API client
    cannot name a blob by its hash and have it attached (only files the item holds are kept).
    """


def default_title(filename: str) -> str:
    """An attachment's title when the editor gives none: the file name without its extension."""
    stem, dot, ext = filename.rpartition(".")
    return stem if dot and stem else filename


def clean_title(value: Any, filename: str) -> str:
    title = " ".join(value.split()) if isinstance(value, str) else ""
    return title[:MAX_FILENAME] or default_title(filename)


class FileListWidget(deform.widget.Widget):
    """Several files in one field: the current ones with their title, order and a remove box, and
    a file input taking many files at once. Works without JavaScript (forms.js adds title fields
    for the files just chosen, moving rows up and down and an early size warning).

    The cstruct is the whole list in its new order: KeptFile items (files the item has, or files
    kept in the UploadStash from a refused submission) and new uploads `{"fp", "filename",
    "title"}`; portal.uploads.Upload turns each into a blob reference with its "title".
    """

    template = "file_list"
    category = "default"

    def __init__(self, request: Any, current: list[dict[str, Any]] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.request = request
        self.current = [ref for ref in (current or []) if isinstance(ref, dict) and "hash" in ref]

    @property
    def limit(self) -> int:
        return portal_settings(self.request.registry).max_upload_size

    def rows(self, field: Any, cstruct: Any) -> list[SimpleNamespace]:
        """What the template shows, one row per file, with the errors of its position."""
        if cstruct in (colander.null, None):
            cstruct = [KeptFile(ref) for ref in self.current]
        errors: dict[int, list[str]] = {}
        if field.error is not None:
            for child in field.error.children:
                errors.setdefault(child.pos, []).extend(str(field.translate(m)) for m in child.messages())
        rows = []
        for pos, item in enumerate(cstruct):
            if not isinstance(item, dict):
                continue
            filename = item.get("filename") or ""
            if isinstance(item, KeptFile):
                key = f"s:{item['uid']}" if "uid" in item else f"k:{item.get('hash', '')}"
            else:
                key = ""  # a new upload that was refused: shown with its error, not sent again
            size = item.get("size")
            rows.append(SimpleNamespace(
                key=key, filename=filename, title=item.get("title") or default_title(filename),
                size=human_size(size) if isinstance(size, int) else "", errors=errors.get(pos, []),
                kept=bool(key), order=0))
        for order, row in enumerate((row for row in rows if row.kept), start=1):
            row.order = order
        return rows

    def serialize(self, field: Any, cstruct: Any, **kw: Any) -> str:
        values = self.get_template_values(field, cstruct, kw)
        limit = human_size(self.limit)
        texts = {  # for forms.js, which has no catalog of its own
            "data-msg-chosen": _("Files chosen (uploaded when the form is saved):"),
            "data-msg-title": _("Title"),
            "data-msg-too-large": _("“{name}” is larger than the limit of ${limit}: it will not be uploaded",
                                    mapping={"limit": limit}),
            "data-msg-up": _("Move up"),
            "data-msg-down": _("Move down"),
        }
        values.update(rows=self.rows(field, cstruct), limit=limit,
                      texts={k: field.translate(v) for k, v in texts.items()},
                      accept=",".join("." + ext for ext in (*FILE_TYPES, *EXTENSION_ALIASES)))
        return field.renderer(self.template, **values)

    def deserialize(self, field: Any, pstruct: Any) -> Any:
        if pstruct is colander.null or not isinstance(pstruct, dict):
            return colander.null
        stash = upload_stash(self.request)
        kept: list[tuple[float, int, KeptFile]] = []
        unused = list(self.current)
        items = pstruct.get("items") or []
        for n, row in enumerate(items if isinstance(items, list) else []):
            if not isinstance(row, dict) or row.get("remove"):
                continue
            key = row.get("key") if isinstance(row.get("key"), str) else ""
            item: KeptFile | None = None
            if key.startswith("k:"):
                ref = next((r for r in unused if r["hash"] == key[2:]), None)
                if ref is not None:
                    unused.remove(ref)
                    item = KeptFile(ref)
            elif key.startswith("s:"):
                loaded = stash.load(key[2:])
                if loaded is not None:
                    item = KeptFile(loaded, uid=key[2:])
            if item is None:
                continue  # not a file of this item (any more): nothing to keep
            item["title"] = clean_title(row.get("title"), item["filename"])
            try:
                order = float(row.get("order") or n + 1)
            except (TypeError, ValueError):
                order = n + 1
            kept.append((order, n, item))
        result: list[Any] = [item for _order, _n, item in sorted(kept, key=lambda k: (k[0], k[1]))]
        uploads = pstruct.get("upload") or []
        titles = pstruct.get("titles") or []
        chosen = [u for u in (uploads if isinstance(uploads, list) else [uploads])
                  if hasattr(u, "file") and getattr(u, "filename", "")]
        for n, upload in enumerate(chosen):
            filename = clean_filename(upload.filename)
            title = titles[n] if isinstance(titles, list) and n < len(titles) else ""
            result.append({"fp": upload.file, "filename": filename, "title": clean_title(title, filename)})
        return result

    def keep_uploads(self, field: Any) -> None:
        """After a refused submission: keep the new files that passed their own checks in the
        stash, so the re-shown form still has them (see UploadStash)."""
        cstruct = field.cstruct
        if not isinstance(cstruct, list):
            return
        failed = {child.pos for child in field.error.children} if field.error is not None else set()
        stash = upload_stash(self.request)
        for pos, item in enumerate(cstruct):
            if isinstance(item, KeptFile) or not isinstance(item, dict) or pos in failed:
                continue
            item["fp"].seek(0, io.SEEK_END)
            size = item["fp"].tell()
            uid = stash.keep(item["fp"], item["filename"])
            cstruct[pos] = KeptFile(filename=item["filename"], title=item["title"], uid=uid, size=size)


class StashTmpStore:
    """The store of deform's FileUploadWidget (one file field): what this request received, in
    memory, and what an earlier refused submission kept, in the UploadStash (deform's own
    MemoryTmpStore lives in one process's memory, and ours was made anew for every request, so
    a refused form lost its file)."""

    def __init__(self, request: Any) -> None:
        self.request = request
        self.memory: dict[str, Any] = {}

    def get(self, uid: str, default: Any = None) -> Any:
        if uid not in self.memory:
            loaded = upload_stash(self.request).load(uid)
            if loaded is None:
                return default
            self.memory[uid] = KeptFile(loaded, uid=uid, kept=True)
        return self.memory[uid]

    def __getitem__(self, uid: str) -> Any:
        value = self.get(uid)
        if value is None:
            raise KeyError(uid)
        return value

    def __setitem__(self, uid: str, value: Any) -> None:
        self.memory[uid] = value

    def __contains__(self, uid: object) -> bool:
        return isinstance(uid, str) and self.get(uid) is not None

    def preview_url(self, uid: str) -> None:
        return None


def keep_single_upload(request: Any, field: Any) -> None:
    """After a refused submission: keep a file field's new file if it passed its own checks."""
    cstruct = field.cstruct
    if field.error is not None or not isinstance(cstruct, dict) or isinstance(cstruct, KeptFile):
        return
    fp = cstruct.get("fp")
    if fp is None:
        return
    filename = clean_filename(cstruct.get("filename"))
    uid = upload_stash(request).keep(fp, filename)
    cstruct.pop("fp")
    cstruct.update(uid=uid, filename=filename, kept=True)  # the same dict the form re-renders


def keep_uploads(form: Any) -> None:
    """Keep the files of a refused form that passed their own checks (portal.views.edit calls
    this), in file lists and in single file fields."""
    for child in form.children:
        if isinstance(child.widget, FileListWidget):
            child.widget.keep_uploads(child)
        elif isinstance(getattr(child.widget, "tmpstore", None), StashTmpStore):
            keep_single_upload(child.widget.tmpstore.request, child)


def current_files(node: Any, name: str) -> list[dict[str, Any]]:
    """The files of a list field the next save starts from: the waiting draft's (a change of a
    published item), else the item's."""
    if node is None:
        return []
    draft = getattr(node, "draft", None)
    value = draft[name] if isinstance(draft, dict) and name in draft else getattr(node, name, None)
    return [ref for ref in value or [] if isinstance(ref, dict) and "hash" in ref]


def file_list_node(request: Any, name: str, title: Any, node: Any = None, **kw: Any) -> colander.SchemaNode:
    """A list of files (each with a title) for forms and the API alike.

    A form sends the whole list through FileListWidget; the API sends a list of file objects
    (an optional "title" each), which replaces the list (portal.api.fields keeps the files sent
    back as GET returned them). Left out of an edit, the list stays as it is (`...`).
    """
    return colander.SchemaNode(
        colander.Sequence(), colander.SchemaNode(Upload(request), name="file", missing=colander.null),
        name=name, title=title, missing=Ellipsis, widget=FileListWidget(request, current_files(node, name)),
        preparer=lambda files: [f for f in files if isinstance(f, dict)] if isinstance(files, list) else files, **kw)
