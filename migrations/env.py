"""Alembic environment: the engine comes from the caller (portal.migrate) or from sqlalchemy.url."""
from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

import content_types.disclosure  # noqa: F401  (every mapped class must be imported for autogenerate)
import content_types.file  # noqa: F401
import content_types.folder  # noqa: F401
import content_types.image  # noqa: F401
import content_types.news  # noqa: F401
import content_types.page  # noqa: F401
import search.outbox  # noqa: F401
from portal.models.meta import Base

config = context.config
target_metadata = Base.metadata


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
