"""Events the core sends after it changes content; search and catalogue subscribe to them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyramid.request import Request

    from .models import Node


@dataclass
class ContentEvent:
    node: Node
    request: Request | None


class ObjectAdded(ContentEvent):
    pass


class ObjectModified(ContentEvent):
    pass


@dataclass
class ObjectMoved(ContentEvent):
    old_path: str


@dataclass
class ObjectRemoved(ContentEvent):
    """Sent before the rows go; `node` is still loaded."""


@dataclass
class WorkflowTransitioned(ContentEvent):
    transition: str
    from_state: str
    to_state: str


class LocalRolesChanged(ContentEvent):
    pass


def notify(request: Any, event: ContentEvent) -> None:
    request.registry.notify(event)
