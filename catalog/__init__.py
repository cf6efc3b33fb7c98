"""The open-data catalogue: Dataset and Resource types, their pages and the catalogue listing.

A package of its own, found through the `portal.content_types` entry point (and its tables
through `portal.migrations`, branch `catalog`); the core, content_types and search do not know it.
"""
from typing import Any

from . import ckan_outbox, dataset, disclosure_export, resource  # noqa: F401  (importing the package defines its tables)


def includeme(config: Any) -> None:
    config.include("catalog.settings")  # first: a bad catalog.* value stops the start-up
    for module in ("dataset", "resource", "listing", "dcat", "ckan_outbox", "disclosure_export", "home_block"):
        config.include(f"catalog.{module}")
