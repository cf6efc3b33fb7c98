"""Alembic revisions of the `catalog` branch (a package only so that it ships in the wheel)."""
