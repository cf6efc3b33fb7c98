"""Alembic revisions of the `search` branch (a package only so that it ships in the wheel)."""
