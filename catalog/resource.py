"""Resource: one distribution of a dataset, an uploaded file or a link.

`format` and `size` are detected, never typed: from the stored file (whose type portal.uploads
decided from its content, so a `.csv` holding a ZIP never gets here) or from the link's path.
They are set whenever `file` or `url` is set, by whichever path (form, API, approving a draft,
restoring a revision), so they cannot disagree with the file.

Files of a conditionally open dataset (有条件开放) go to logged-in staff only: the core's download
view asks the type's `may_download` (portal.registry.TypeInfo), the one place that decides.
"""
from __future__ import annotations

import logging
import re
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import colander
import deform
from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column, validates

from portal.i18n import _
from portal.models import Node, writing_engine
from portal.registry import TypeInfo, info_for
from portal.schemas import base_schema
from portal.uploads import extension_of, upload_node
from portal.views.files import download

from . import vocabularies as v

log = logging.getLogger(__name__)
URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
FORMAT = re.compile(r"[a-z0-9]{1,8}")


def detect(file: Any, url: Any) -> tuple[str, int | None]:
    """`(format, size)` of a resource: the stored file's extension (its type checked from its
    content on upload) and size, else the link path's extension and no size."""
    if isinstance(file, dict) and "hash" in file:
        size = file.get("size")
        return extension_of(str(file.get("filename") or "")).upper(), size if isinstance(size, int) else None
    if isinstance(url, str) and url:
        ext = extension_of(urlsplit(url).path.rsplit("/", 1)[-1])
        return (ext.upper() if FORMAT.fullmatch(ext) else ""), None
    return "", None


class Resource(Node):
    __tablename__ = "dataset_resources"
    id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    file: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    url: Mapped[str] = mapped_column(String(1000), default="")
    format: Mapped[str] = mapped_column(String(20), default="", index=True)
    size: Mapped[int | None] = mapped_column(BigInteger)
    # Incremented by its own short transaction after a download (catalog.resource.count_download),
    # never by the reading request; not a field, so no revision or version change.
    downloads: Mapped[int] = mapped_column(Integer, default=0)
    __mapper_args__ = {"polymorphic_identity": "Resource", "polymorphic_load": "selectin"}
    fields = ("title", "description", "file", "url")

    @validates("file", "url")
    def _detect(self, key: str, value: Any) -> Any:
        if key == "url" and value and self.file is not None:
            self.file = None  # a link replaces the file (an API PATCH may send the link alone)
        self.format, self.size = detect(value if key == "file" else self.file, value if key == "url" else self.url)
        return value

    @property
    def previewable(self) -> bool:
        return bool(self.file) and self.format in v.TABULAR_FORMATS


def may_download(request: Any, node: Node) -> bool:
    """Files of a conditionally open dataset: logged-in staff only (the public applies to the
    contact the page names); otherwise whoever may view the resource."""
    dataset = node.parent
    if getattr(dataset, "open_class", None) == v.CONDITIONAL:
        return request.authenticated_userid is not None
    return True


def is_new_file(file: Any, existing: Node | None) -> bool:
    """An upload of this save, not the file the resource has (which the API's PATCH sends back)."""
    if not isinstance(file, dict):
        return False
    current = getattr(existing, "file", None)
    return not (isinstance(current, dict) and file.get("hash") == current.get("hash"))


def prepare(value: Any, existing: Node | None) -> Any:
    """A link replaces the file and a new file the link; the title defaults to the file's name."""
    if not isinstance(value, dict):
        return value
    url, file = (value.get("url") or "").strip(), value.get("file")
    new_file = is_new_file(file, existing)
    value["url"] = url
    if url and not new_file:
        value["file"] = None
    elif new_file and url == getattr(existing, "url", None):
        value["url"] = ""  # a new file replaces the link the resource had
    if not value.get("title"):
        if isinstance(file, dict) and file.get("filename"):
            value["title"] = file["filename"]
        elif url:
            value["title"] = url.rsplit("/", 1)[-1][:200] or url[:200]
    return value


def check_source(node: colander.SchemaNode, value: dict[str, Any], existing: Node | None) -> None:
    file, url = value.get("file"), value.get("url")
    exc = colander.Invalid(node)
    if is_new_file(file, existing) and url:
        exc["url"] = _("Give either a file or a link, not both")
        raise exc
    has_file = isinstance(file, dict) or (file is Ellipsis and existing is not None and bool(existing.file))
    if not url and not has_file:
        exc["file"] = _("Upload a file or give a link")
        raise exc
    if not value.get("title"):
        exc["title"] = _("Required")
        raise exc


def schema(request: Any, node: Node | None = None) -> colander.SchemaNode:
    s = base_schema(request, node)
    s["title"].missing = ""  # defaults to the file's name
    s.add(upload_node(request, "file", _("File"), required=False, existing=node))
    s.add(colander.SchemaNode(colander.String(), name="url", title=_("Or a link"), missing="",
                              validator=colander.All(colander.Length(max=1000),
                                                     colander.Regex(URL, _("A link starts with http:// or https://"))),
                              widget=deform.widget.TextInputWidget(),
                              description=_("A web address of the data, instead of an uploaded file")))
    s.preparer = lambda value: prepare(value, node)
    s.validator = lambda n, value: check_source(n, value, node)
    return s


def count_download(request: Any, resource_id: int) -> None:
    """One more download, in a short transaction of its own after the response was made.

    The download itself is a reading request: on SQLite it holds no write lock (portal.models'
    BEGIN for readers) and must not take one, or every download would queue behind the editors'
    saves. So the count is an atomic `UPDATE ... SET downloads = downloads + 1` (no lost updates
    between parallel downloads, no read first) in its own write transaction, after the response.
    A caller that brings its own session (`app.dbsession`: scripts and the tests' transaction)
    gets the update in that session. A failed count is logged; it never fails the download."""
    statement = (update(Resource.__table__).where(Resource.__table__.c.id == resource_id)
                 .values(downloads=Resource.__table__.c.downloads + 1))
    session = request.environ.get("app.dbsession")
    try:
        if session is not None:
            session.execute(statement)
            return
        engine = request.registry["dbsession_factory"].kw["bind"]
        with writing_engine(engine).begin() as connection:
            connection.execute(statement)
    except SQLAlchemyError:
        log.warning("download of resource %s not counted", resource_id, exc_info=True)


def counts_as_download(request: Any) -> bool:
    """A whole download or the first part of one (a resumed download is not a second one)."""
    ranges = request.range
    if ranges is None:
        return True
    return ranges.start == 0


def resource_download(context: Resource, request: Any) -> Any:
    """The core's download (which asks `may_download`), counted."""
    response = download(context, request)
    if counts_as_download(request) and request.subpath[:1] == ("file",):
        resource_id = context.id
        request.add_finished_callback(lambda req: count_download(req, resource_id))
    return response


def resource_view(context: Resource, request: Any) -> dict[str, Any]:
    from .dataset import contact
    from .preview import preview

    allowed = may_download(request, context)
    row = SimpleNamespace(
        node=context, format=context.format, size=context.size, downloads=context.downloads or 0, allowed=allowed,
        url=context.url or None,
        download=request.resource_url(context, "@@download", "file") if context.file else None,
        preview=preview(request, context) if allowed and context.previewable else None)
    dataset = context.parent
    return {"info": info_for(request.registry, context), "resources": [row], "dataset": dataset,
            "contact": contact(dataset), "licence": None, "unit": context.unit(), "frequency_uri": "",
            "ckan": None}


def includeme(config: Any) -> None:
    config.add_content_type(TypeInfo("Resource", _("Data resource"), Resource, schema, addable_to=("Dataset",),
                                     template="themes:default/templates/dataset.pt", view=resource_view,
                                     file_fields=("file",), searchable=False, may_download=may_download))
    config.add_view(resource_download, context=Resource, name="download", permission="view")
