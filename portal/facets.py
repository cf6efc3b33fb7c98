"""Facets of the public listings (search, the 信息公开目录, the open-data catalogue), bounded for phones.

A county-wide facet of units has up to 84 entries (the plan's units); listed in full it is a page
of links before anything else on a phone. So each facet shows its `limit` entries with the most
results (and whatever the visitor chose), in the facet's own order -- the county plan's for
units, the national order for 主题分类 -- and keeps the rest behind "更多" in the same order. The
pages render both parts; the "更多" is a <details>, so it works without JavaScript.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Sequence

from sqlalchemy import select

from .models import Node, Unit
from .pagecache.memo import versioned
from .pagecache.tags import NAV, SITE

LIMIT = 10
LAST = (1 << 30,)  # a value the order does not know (a unit since removed): after the known ones


@dataclass(frozen=True)
class Entry:
    """One value of a facet: what it shows, the link that applies (or removes) it, its count."""

    label: str
    href: str
    count: int
    active: bool = False


@dataclass(frozen=True)
class Facet:
    """A facet as the templates draw it: `shown` always, `more` behind "更多"."""

    name: str
    title: str
    shown: list[Entry]
    more: list[Entry] = field(default_factory=list)

    @property
    def entries(self) -> list[Entry]:
        return self.shown + self.more


def bounded(name: str, title: str, entries: Sequence[Entry], order: Callable[[Entry], Any] | None = None,
            limit: int = LIMIT) -> Facet:
    """The `limit` entries with the highest counts (none of 0) plus the active ones, then the rest;
    both parts in `order` (default: as given). A facet at most `limit` long is shown whole."""
    ordered = sorted(entries, key=order) if order is not None else list(entries)
    if len(ordered) <= limit:
        return Facet(name, title, ordered)
    by_count = sorted((i for i, e in enumerate(ordered) if e.count), key=lambda i: (-ordered[i].count, i))[:limit]
    keep = set(by_count) | {i for i, e in enumerate(ordered) if e.active}
    return Facet(name, title, [e for i, e in enumerate(ordered) if i in keep],
                 [e for i, e in enumerate(ordered) if i not in keep])


def in_sequence(values: Sequence[Hashable]) -> Callable[[Entry], tuple[int, ...]]:
    """The sort key of entries labelled with the values of a fixed sequence (the national 主题分类,
    the 体裁 of GB/T 9704); unknown labels last."""
    place = {v: (i,) for i, v in enumerate(values)}
    return lambda entry: place.get(entry.label, LAST)


def newest_first(entry: Entry) -> tuple[int, str]:
    """The sort key of year entries (labelled "2024"): the latest year first."""
    return (-int(entry.label) if entry.label.isdigit() else 0, entry.label)


def unit_plan_order(request: Any) -> dict[str, tuple[int, ...]]:
    """{unit title: its place in the county plan}: the positions along its path (units are loaded
    in the plan's order, so a town's 便民服务中心 follows the town). Read once per version of the
    navigation (any change of a unit bumps it) for the ~84 units, not per page."""
    def read() -> dict[str, tuple[int, ...]]:
        rows = request.dbsession.execute(select(Node.title, Node.path, Node.position).select_from(Unit)).all()
        position = {path: pos for _title, path, pos in rows}
        order: dict[str, tuple[int, ...]] = {}
        for title, path, _pos in sorted(rows, key=lambda r: r[1]):
            steps = [p for p in path.strip("/").split("/") if p]
            prefixes = ["/" + "/".join(steps[:i + 1]) + "/" for i in range(len(steps))]
            order.setdefault(title, tuple(position[p] for p in prefixes if p in position))
        return order

    return versioned(request, (NAV, SITE), ("unit plan order",), read)


def unit_order(request: Any) -> Callable[[Entry], tuple[Any, ...]]:
    """The sort key of unit entries (labelled with the unit's title): the plan's order."""
    order = unit_plan_order(request)
    return lambda entry: (order.get(entry.label, LAST), entry.label)


@dataclass(frozen=True)
class Chosen:
    """A filter the visitor applied, for the line above the results: "单位：黄梅镇 ×" (a link
    that removes it), shown even when its facet is folded away on a phone."""

    title: str
    label: str
    remove: str
