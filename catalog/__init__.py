"""The open-data catalogue: Dataset and Resource types, their pages and the catalogue listing.

A package of its own, found through the `portal.content_types` entry point (and its tables
through `portal.migrations`, branch `catalog`); the core, content_types and search do not know it.
"""
from typing import Any

from . import dataset, resource  # noqa: F401  (importing the package defines its tables)


def includeme(config: Any) -> None:
    for module in ("dataset", "resource", "listing", "dcat"):
        config.include(f"catalog.{module}")
