"""The blocks of the portal's home page (要闻, 通知公告, the 信息公开目录's latest, open data ...).

The core draws the home page but knows no content type, so the packages that do contribute its
blocks (`config.add_home_block`), each a function that reads its rows for the current page. The
county's own columns are those of the unit that runs the portal: its 主办单位 (`host_unit`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import select

from .models import Node, Portal, Unit
from .pagecache.memo import versioned


HOST_KEY = "portal.home.host_unit"


@dataclass(frozen=True)
class Entry:
    """A line of a block: an item's title and page, its date, a note (文号, the unit's name) and
    its picture's URL (the lead of a news block)."""
    title: str
    url: str
    date: dt.datetime | None = None
    note: str = ""
    picture: str | None = None


@dataclass(frozen=True)
class Block:
    """What the home page shows of one block; `more` leads to the whole list."""
    name: str  # its id in the page, a CSS hook
    title: str
    entries: list[Entry]
    more: str | None = None
    lead: Entry | None = None  # an entry with a picture, shown large
    wide: bool = False  # takes a whole row (the catalogue's table-like blocks)


@dataclass(frozen=True)
class HomeBlock:
    """A contributed block: `build(request, portal)` reads it (None: nothing to show at all)."""
    name: str
    order: int  # place on the page, smallest first
    build: Callable[[Any, Portal], Block | None]


@dataclass
class _Blocks:
    blocks: dict[str, HomeBlock] = field(default_factory=dict)


def add_home_block(config: Any, block: HomeBlock) -> None:
    def register() -> None:
        config.registry.setdefault("home_blocks", _Blocks()).blocks[block.name] = block
    config.action(("portal-home-block", block.name), register)


def home_blocks(request: Any, portal: Portal) -> list[Block]:
    """The blocks, read once per version of the site's content (and minute): they show only what
    is public, the same for every visitor and editor, so an editor's first render of the home page
    (the page cache keeps it per session) reuses them."""
    registered = sorted(request.registry.get("home_blocks", _Blocks()).blocks.values(),
                        key=lambda b: (b.order, b.name))

    def build() -> list[Block]:
        built = (b.build(request, portal) for b in registered)
        return [b for b in built if b is not None]

    return versioned(request, (f"tree:{portal.id}",), ("home blocks", request.application_url,
                                                       request.localizer.locale_name), build)


def host_unit(request: Any, portal: Portal) -> Unit | None:
    """The unit that runs the portal: the one whose full name is the site's 主办单位 (黄梅县人民政府
    办公室 for 黄梅县人民政府). Its columns are the county's 要闻, 通知公告 and 政策文件."""
    if not portal.sponsor:
        return None
    found = request.environ.setdefault(HOST_KEY, {})  # once per request: every county block asks
    if portal.id not in found:
        found[portal.id] = request.dbsession.scalar(select(Unit).where(
            Node.parent_id == portal.id, Unit.full_name == portal.sponsor).limit(1))
    return found[portal.id]


def includeme(config: Any) -> None:
    config.add_directive("add_home_block", add_home_block)
