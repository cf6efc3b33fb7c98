"""Image: a validated, EXIF-stripped picture with named scales (see portal.images)."""
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

from .file import title_from_filename
from .folder import CONTAINERS


class Image(Node):
    __tablename__ = "images"
    id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    image: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    __mapper_args__ = {"polymorphic_identity": "Image", "polymorphic_load": "selectin"}
    fields = Node.fields + ("image",)


def schema(request: Any, node: Node | None = None) -> colander.SchemaNode:
    s = base_schema(request, node)
    s["title"].missing = ""
    s.add(upload_node(request, "image", _("Image"), image=True, existing=node))
    s.preparer = title_from_filename("image")
    return s


def includeme(config: Any) -> None:
    config.add_content_type(TypeInfo("Image", _("Image"), Image, schema, addable_to=CONTAINERS,
                                     template="themes:default/templates/image.pt", file_fields=("image",)))
