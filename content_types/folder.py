"""Folder: a column (栏目) of a unit's sub-site, with the update interval the unit promises."""
from __future__ import annotations

from typing import Any

import colander
from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.i18n import _
from portal.models import Node
from portal.registry import TypeInfo
from portal.schemas import base_schema, choice

# The kinds of column the supervision rules read; types name the kinds they belong in
# (`TypeInfo.belongs_in`, see content_types.columns). A 其他 column takes anything.
COLUMN_KINDS = ("动态", "通知公告", "政策文件", "信息公开", "其他")
OTHER_KIND = "其他"
CONTAINERS = ("Portal", "Unit", "Folder")


class Folder(Node):
    __tablename__ = "folders"
    id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    column_kind: Mapped[str] = mapped_column(String(20), default="其他")
    update_interval: Mapped[int | None] = mapped_column(Integer)  # days between updates the unit promises
    __mapper_args__ = {"polymorphic_identity": "Folder", "polymorphic_load": "selectin"}
    folderish = True
    fields = Node.fields + ("column_kind", "update_interval")


def schema(request: Any, node: Node | None = None) -> colander.SchemaNode:
    s = base_schema(request, node)
    s.add(choice(_("Column kind"), COLUMN_KINDS, name="column_kind"))
    s.add(colander.SchemaNode(colander.Int(), name="update_interval", title=_("Update interval (days)"),
                              missing=None, validator=colander.Range(min=1, max=366),
                              description=_("How often the unit promises to update this column")))
    return s


def includeme(config: Any) -> None:
    config.add_content_type(TypeInfo("Folder", _("Column"), Folder, schema, addable_to=CONTAINERS,
                                     searchable=False))
