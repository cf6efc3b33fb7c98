"""File: an uploaded document; the bytes live in the blob store, the metadata here."""
from __future__ import annotations

from typing import Any

import colander
from sqlalchemy import JSON, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from portal.i18n import _
from portal.models import Node
from portal.registry import TypeInfo
from portal.schemas import base_schema
from portal.uploads import upload_node

from .folder import CONTAINERS


class File(Node):
    __tablename__ = "files"
    id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    file: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    __mapper_args__ = {"polymorphic_identity": "File", "polymorphic_load": "selectin"}
    fields = Node.fields + ("file",)


def schema(request: Any, node: Node | None = None) -> colander.SchemaNode:
    s = base_schema(request, node)
    s["title"].missing = ""  # defaults to the file name
    s.add(upload_node(request, "file", _("File"), existing=node))
    s.preparer = title_from_filename("file")
    return s


def title_from_filename(field: str) -> Any:
    def prepare(value: Any) -> Any:
        if isinstance(value, dict) and not value.get("title") and isinstance(value.get(field), dict):
            value["title"] = value[field]["filename"]
        return value
    return prepare


def includeme(config: Any) -> None:
    config.add_content_type(TypeInfo("File", _("File"), File, schema, addable_to=CONTAINERS,
                                     template="themes:default/templates/file.pt", file_fields=("file",)))
