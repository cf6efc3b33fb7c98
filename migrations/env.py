"""Alembic environment: the engine comes from the caller (portal.migrate) or from sqlalchemy.url.

The branches' directories are set by portal.migrate.alembic_config; the models compared against
(autogenerate, tests/unit/test_migrations.py) are the core's and those of every package
registered in the `portal.migrations` entry point group, so no package is named here.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from portal.migrate import registered_metadata

config = context.config
target_metadata = registered_metadata()


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                                    poolclass=pool.NullPool)
        with engine.connect() as connection:
            _run(connection)
    else:
        _run(connection)


def _run(connection: object) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
