"""Alembic revisions of the `content_types` branch (a package only so that it ships in the wheel)."""
