"""The open-data block of the portal's home page (portal.home): the newest datasets the public may
see, with their theme, leading to the catalogue (`/@@datasets`)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from portal.home import Block, Entry, HomeBlock
from portal.i18n import _
from portal.models import Node, Portal
from portal.visibility import public_now

from .dataset import Dataset

BLOCK_SIZE = 6


def open_data(request: Any, portal: Portal) -> Block:
    rows = request.dbsession.execute(
        select(Node.title, Node.path, Node.published, Dataset.theme)
        .where(Node.type == Dataset.__mapper__.polymorphic_identity, *public_now())
        .order_by(Node.published.desc(), Node.id.desc()).limit(BLOCK_SIZE)).all()
    base = request.application_url
    return Block("sjkf", request.localizer.translate(_("Open data")),
                 [Entry(r.title, base + r.path, r.published, r.theme) for r in rows], base + "/@@datasets")


def includeme(config: Any) -> None:
    config.add_home_block(HomeBlock("sjkf", 65, open_data))  # beside 政策解读, before the wide 信息公开 block
