"""A content type described in one module, as a package outside the portal would write it.

The proof that the type registry is the only place a type is described: with nothing but this
module (and `portal.includes = tests.example_type`), an Event is addable, editable through the
form and the API, versioned, searchable by its extra field and listed
(tests/functional/test_example_type.py). Its table is made by that test, not by a migration,
so the suite's schema stays that of the real packages.
"""
from __future__ import annotations

from typing import Any

import colander
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.models import Node
from portal.registry import TypeInfo
from portal.schemas import base_schema, text_line


class Event(Node):
    __tablename__ = "example_events"
    id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    venue: Mapped[str] = mapped_column(String(200), default="")
    __mapper_args__ = {"polymorphic_identity": "Event", "polymorphic_load": "selectin"}
    fields = Node.fields + ("venue",)


def schema(request: Any, node: Node | None = None) -> colander.SchemaNode:
    s = base_schema(request, node)
    s.add(text_line("Venue", name="venue"))
    return s


def includeme(config: Any) -> None:
    config.add_content_type(TypeInfo("Event", "Event", Event, schema, addable_to=("Unit", "Folder"), dated=True,
                                     text_fields=("venue",), index=index))


def index(node: Event) -> dict[str, Any]:
    return {"keywords": [node.venue]} if node.venue else {}
