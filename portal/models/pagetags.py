"""Versions of what public pages show, for the page cache and HTTP validators (portal.pagecache).

A tag names one thing a page may show: `node:<id>` an item's own fields, `tree:<id>` anything in
an item's subtree, `nav` the site navigation. Every change bumps its tags' versions in the
changing transaction, so a cached page whose tags still have the versions it was rendered with
shows what the database holds.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base
from .node import utcnow


class PageTag(Base):
    __tablename__ = "page_tags"
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    changed: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
