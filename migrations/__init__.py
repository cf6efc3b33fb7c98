"""Alembic environment and the core's revisions (branch `portal`); other packages ship their own
branches (see portal.migrate). `portal init` and the tests run them all."""
