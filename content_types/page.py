"""Page: a rich-text page (e.g. a unit's 信息公开指南)."""
from __future__ import annotations

from typing import Any

import colander
from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.i18n import _
from portal.models import Node
from portal.registry import TypeInfo
from portal.schemas import add_dates, base_schema, check_dates, rich_text

from .folder import CONTAINERS


class Page(Node):
    __tablename__ = "pages"
    id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    body: Mapped[str] = mapped_column(Text, default="")
    __mapper_args__ = {"polymorphic_identity": "Page", "polymorphic_load": "selectin"}
    fields = Node.fields + ("body",)


def schema(request: Any, node: Node | None = None) -> colander.SchemaNode:
    s = base_schema(request, node)
    s.add(rich_text(name="body", title=_("Body")))
    s.validator = check_dates
    return add_dates(s)


def includeme(config: Any) -> None:
    config.add_content_type(TypeInfo("Page", _("Page"), Page, schema, addable_to=CONTAINERS, html_fields=("body",),
                                     text_fields=("body",), aliases=("Document",)))
