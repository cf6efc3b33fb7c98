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


@dataclass
class SiteSetUp(ContentEvent):
    """Sent by `portal.units.set_up_site` (`portal init`, test and benchmark set-up) after the root,
    groups and units are loaded, with the root as `node`: packages bring what already exists up to
    date (e.g. the standard columns of units made before they existed), idempotently, and may add
    `notes` for the operator."""
    notes: list[str]
