"""The migrations: one Alembic branch per package, a schema equal to the models, old databases kept.

Each test that migrates gets a new empty database on the suite's database (SQLite, or the
PostgreSQL server of `--db=postgresql`), since the session's `engine` is migrated already.
"""
from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from alembic import command
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, make_url, text
from sqlalchemy.engine import Connection, Engine

from portal.migrate import LEGACY_REVISIONS, alembic_config, migration_packages, upgrade, version_locations
from portal.models import get_engine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def empty_engine(db_kind: str, db_url: str, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a new, empty database (dropped afterwards on PostgreSQL)."""
    if db_kind == "sqlite":
        engine = get_engine({"sqlalchemy.url": f"sqlite:///{tmp_path / 'migrated.db'}"})
        yield engine
        engine.dispose()
        return
    name = f"portal_migrations_{uuid.uuid4().hex[:12]}"
    server = create_engine(db_url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = get_engine({"sqlalchemy.url": make_url(db_url).set(database=name)})
    try:
        yield engine
    finally:
        engine.dispose()
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}"'))
        server.dispose()


def script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def versions(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


def pending(connection: Connection) -> list[str]:
    """The revisions an upgrade to every branch's head would still run."""
    current = tuple(versions(connection))
    return [rev.revision for rev in script().revision_map.iterate_revisions("heads", current)]


# Run in a fresh interpreter: the models are then those of the registered packages only, as
# migrations/env.py sees them. This process's metadata also holds the tables that tests map for
# themselves (tests/example_type), which no migration makes.
COMPARE = """
import sys
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from portal.migrate import registered_metadata
with create_engine(sys.argv[1]).connect() as connection:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
    for difference in compare_metadata(context, registered_metadata()):
        print(difference)
"""


def differences(engine: Engine) -> list[str]:
    """What autogenerate would write to turn this database into the models (nothing filtered)."""
    url = engine.url.render_as_string(hide_password=False)
    out = subprocess.run([sys.executable, "-c", COMPARE, url], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_one_branch_per_registered_package() -> None:
    """Branches are the core's and the entry points'; each ships its revisions in its own directory."""
    packages = migration_packages()
    assert {"content_types", "search"} <= set(packages)
    locations = dict(zip(["portal", *packages], version_locations()))
    revisions = list(script().walk_revisions())
    assert {label for rev in revisions for label in rev.branch_labels} == set(locations)
    for rev in revisions:
        (label,) = rev.branch_labels
        assert Path(rev.path).parent == Path(locations[label]), rev.revision
        if rev.is_base and label != "portal":
            # A package's tables join the core's: its first revision comes after the core's.
            dependencies = (rev.dependencies,) if isinstance(rev.dependencies, str) else rev.dependencies or ()
            assert dependencies and all("portal" in script().get_revision(dep).branch_labels for dep in dependencies)


def test_migrated_schema_matches_models(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    assert differences(empty_engine) == []
    with empty_engine.connect() as connection:
        assert pending(connection) == []
        before = versions(connection)
    upgrade(empty_engine)  # nothing left to do: the same versions, no error
    with empty_engine.connect() as connection:
        assert versions(connection) == before


# What the single linear history before the branches had made, in today's revisions (same DDL):
# '0001' every table but the search outbox, '0002' the outbox too.
OLD_LAYOUTS = {"0001": ("portal_0001", "content_types_0001"),
               "0002": ("portal_0001", "content_types_0001", "search_0001")}


@pytest.mark.parametrize("old", sorted(OLD_LAYOUTS))
def test_old_database_is_restamped_and_upgraded(empty_engine: Engine, old: str) -> None:
    assert old in LEGACY_REVISIONS
    cfg = alembic_config()
    with empty_engine.begin() as connection:
        cfg.attributes["connection"] = connection
        for revision in OLD_LAYOUTS[old]:
            command.upgrade(cfg, revision)
        connection.execute(text("DELETE FROM alembic_version"))
        connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:old)"), {"old": old})
        connection.execute(text(
            "INSERT INTO nodes (id, type, name, path, position, title, description, created, modified, state,"
            " inherit_roles, version) VALUES (1, 'portal', '', '/', 0, 'root', '', :now, :now, 'published',"
            " :true, 1)"), {"now": "2026-01-01 00:00:00", "true": True})
        assert ("search_outbox" in inspect(connection).get_table_names()) == (old == "0002")

    upgrade(empty_engine)

    assert differences(empty_engine) == []
    with empty_engine.connect() as connection:
        assert old not in versions(connection)
        assert pending(connection) == []
        assert connection.execute(text("SELECT title FROM nodes WHERE id = 1")).scalar_one() == "root"
