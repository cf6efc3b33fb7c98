"""Alembic migrations: every table comes from here (`portal init` and the tests run them)."""
