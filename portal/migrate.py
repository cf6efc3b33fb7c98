"""Run the Alembic migrations against an engine (used by `portal init` and the test set-up).

One Alembic branch per package, so a package brings its tables without editing the core: the
core's revisions are in `migrations/versions/` (branch `portal`); every other package is listed in
the entry point group `portal.migrations` (name = its branch label, value = the module whose
import defines its tables) and ships its revisions in the `migrations/` directory of that
module's package. A package's first revision carries its branch label and `depends_on` the core
revision that creates the tables it refers to. A new revision on a branch, from the models::

    command.revision(alembic_config(url), "message", autogenerate=True, head="search@head")

and a new package's first one (its entry point installed): `head="base", branch_label="catalog",
version_path="catalog/migrations", depends_on="portal@head"`.
"""
from __future__ import annotations

import importlib
import os
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.engine import Engine

ENTRY_POINT_GROUP = "portal.migrations"

# Databases made before the branches carry one linear history: '0001' made every table but the
# search outbox, '0002' added it. They are stamped with the branch revisions that made the same
# tables, then upgraded like any other database. Only revisions nothing else depends on are
# named: 'portal_0001' is implied by the branches that depend on it (Alembic's version table never
# lists a revision next to one depending on it, and refuses to step from one that does).
LEGACY_REVISIONS: dict[str, tuple[str, ...]] = {
    "0001": ("content_types_0001",),
    "0002": ("content_types_0001", "search_0001"),
}


def migration_packages() -> dict[str, str]:
    """Branch label -> the module defining that branch's tables (besides the core)."""
    return {entry.name: entry.value for entry in entry_points(group=ENTRY_POINT_GROUP)}


def version_locations() -> list[str]:
    """The core's versions directory, then each registered package's `migrations/`."""
    locations = [str(resources.files("migrations") / "versions")]
    for module_name in migration_packages().values():
        module = importlib.import_module(module_name)
        package = module if hasattr(module, "__path__") else importlib.import_module(module.__package__ or "")
        locations.append(str(Path(next(iter(package.__path__))) / "migrations"))
    return locations


def registered_metadata() -> MetaData:
    """The metadata of the core's models and of every registered package's models."""
    from .models import Base  # the core's models
    for module_name in migration_packages().values():
        importlib.import_module(module_name)
    return Base.metadata


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    # Option values go through ConfigParser interpolation: a literal % is written %%.
    cfg.set_main_option("script_location", str(resources.files("migrations")).replace("%", "%%"))
    cfg.set_main_option("path_separator", "os")  # split on os.pathsep: directories may contain spaces
    cfg.set_main_option("version_locations", os.pathsep.join(version_locations()).replace("%", "%%"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the database to `revision` (every branch's head by default), in one transaction."""
    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        current = MigrationContext.configure(connection).get_current_heads()
        if len(current) == 1 and current[0] in LEGACY_REVISIONS:
            # purge: the old id is in no branch, so Alembic could not step from it.
            command.stamp(cfg, list(LEGACY_REVISIONS[current[0]]), purge=True)
        command.upgrade(cfg, revision)
