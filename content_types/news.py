"""News: a dated article with a lead image and its source."""
from __future__ import annotations

from typing import Any

import colander
from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.i18n import _
from portal.models import Node
from portal.registry import TypeInfo
from portal.schemas import add_dates, base_schema, check_dates, rich_text, text_line
from portal.uploads import upload_node

from .folder import CONTAINERS


class News(Node):
    __tablename__ = "news"
    id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    body: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(200), default="")
    lead_image: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    __mapper_args__ = {"polymorphic_identity": "News", "polymorphic_load": "selectin"}
    fields = Node.fields + ("body", "source", "lead_image")


def schema(request: Any, node: Node | None = None) -> colander.SchemaNode:
    s = base_schema(request, node)
    s.add(text_line(_("Source"), name="source", description=_("Where the article comes from, e.g. 县政府办")))
    s.add(rich_text(name="body", title=_("Body")))
    s.add(upload_node(request, "lead_image", _("Lead image"), image=True, required=False, existing=node))
    s.validator = check_dates
    return add_dates(s)


def includeme(config: Any) -> None:
    config.add_content_type(TypeInfo("News", _("News"), News, schema, addable_to=CONTAINERS, dated=True,
                                     belongs_in=("动态", "通知公告"),
                                     template="themes:default/templates/news.pt", html_fields=("body",),
                                     text_fields=("body",), file_fields=("lead_image",), source_field="source",
                                     aliases=("News Item",)))
