"""The search package's `search.*` settings, parsed once at start-up (see portal/settings.py for why).

Code reads `search_settings(registry)`; development.ini and production.ini document every key.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from portal.settings import read_bool, read_int, read_path, reject_unknown

KEY = "search.settings"


@dataclass(frozen=True)
class SearchSettings:
    """The parsed `search.*` settings; frozen, so no module can rewrite one for another to read."""

    index_dir: Path = Path("var/index")
    # apply the outbox after each commit in the web process (development, tests); production runs
    # `portal indexer` instead, one writer for all web processes
    drain_after_commit: bool = True
    # apply what a crash left in the outbox (and refill an index a format upgrade emptied) at start-up
    drain_on_start: bool = True
    # writer processes of `portal reindex` (the web processes keep one)
    reindex_procs: int = 2

    @classmethod
    def parse(cls, settings: Mapping[str, Any]) -> SearchSettings:
        """Read and check every key; the first bad one raises `portal.settings.SettingsError`."""
        reject_unknown(settings, "search.", {"search." + f.name for f in fields(cls)})
        return cls(
            index_dir=read_path(settings, "search.index_dir", str(cls.index_dir)),
            drain_after_commit=read_bool(settings, "search.drain_after_commit", cls.drain_after_commit),
            drain_on_start=read_bool(settings, "search.drain_on_start", cls.drain_on_start),
            reindex_procs=read_int(settings, "search.reindex_procs", cls.reindex_procs),
        )


def search_settings(registry: Any) -> SearchSettings:
    """The one way code reads a `search.*` setting."""
    return registry[KEY]


def includeme(config: Any) -> None:
    config.registry[KEY] = SearchSettings.parse(config.get_settings())
