"""One way to cut a listing into pages: newest first, and a deep page read from where it starts.

A page far down a listing of 10,000 items read with OFFSET walks every row before it (the last
page of the 信息公开目录 at 100,000 items: 120 ms). Instead the first row of every page is found in
one pass and kept per version of what the listing shows (`portal.pagecache.memo.versioned`: its
tags are bumped by every change below, and it is kept a minute at most, for what becomes public or
expires with time); a page is then the rows from its first one on, read from the ordering index.
The first pages still use OFFSET: walking a few hundred index entries costs less than the pass.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable

from sqlalchemy import Select, func, select, tuple_

from .models import Node
from .pagecache.memo import versioned

PAGE_SIZE = 20
NEAR = 10  # pages up to here are read with OFFSET


@dataclass(frozen=True)
class Batch:
    items: list[Any]
    page: int
    pages: int
    total: int

    def as_dict(self) -> dict[str, Any]:
        """What the listing templates take."""
        return {"items": self.items, "page": self.page, "pages": self.pages, "total": self.total}


def page_number(request: Any, total: int, size: int = PAGE_SIZE) -> tuple[int, int]:
    """The page asked for (`?page=`, kept within the pages there are), and how many there are."""
    try:
        page = max(1, int(request.params.get("page", 1)))
    except ValueError:
        page = 1
    pages = max(1, (total + size - 1) // size)
    return min(page, pages), pages


def batch(request: Any, query: Select, conditions: list[Any], newest: Any, tags: tuple[str, ...],
          key: Hashable, size: int = PAGE_SIZE, total: int | None = None) -> Batch:
    """The asked-for page of `query` where `conditions` hold, ordered by `newest` then id, both
    descending. `tags` are the page tags a change of the listed rows bumps (`tree:<container>`),
    `key` names the listing and its filters among the memo's values. The rows are counted once
    per version of the tags, unless the caller counted them already (`total`). Items are entities
    for a query of one entity, else rows."""
    if total is None:
        counting = query.with_only_columns(func.count(Node.id), maintain_column_froms=True).where(*conditions)
        total = versioned(request, tags, ("total", key), lambda: request.dbsession.scalar(counting))
    page, pages = page_number(request, total, size)
    stmt = query.where(*conditions).order_by(newest.desc(), Node.id.desc()).limit(size)
    if page > NEAR:
        starts = versioned(request, tags, ("page starts", key, size),
                           lambda: page_starts(request.dbsession, query, conditions, newest, size))
        if page <= len(starts):  # (else the rows changed within the minute: OFFSET is right anyway)
            stmt = stmt.where(tuple_(newest, Node.id) <= starts[page - 1])
        else:
            stmt = stmt.offset((page - 1) * size)
    else:
        stmt = stmt.offset((page - 1) * size)
    result = request.dbsession.execute(stmt)
    items = list(result.scalars() if len(query.column_descriptions) == 1 else result)
    return Batch(items, page, pages, total)


def page_starts(dbsession: Any, query: Select, conditions: list[Any], newest: Any, size: int) -> list[tuple[Any, int]]:
    """(newest, id) of the first row of every page, in one pass over the ordering."""
    number = func.row_number().over(order_by=(newest.desc(), Node.id.desc())).label("number")
    ordered = (query.with_only_columns(newest.label("newest"), Node.id.label("id"), number,
                                       maintain_column_froms=True)
               .where(*conditions).subquery())
    return [tuple(row) for row in dbsession.execute(
        select(ordered.c.newest, ordered.c.id).where((ordered.c.number - 1) % size == 0).order_by(ordered.c.number))]
