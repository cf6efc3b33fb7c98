"""page_tags: versions of what public pages show (portal.pagecache)

Revision ID: portal_0005
Revises: portal_0004
Create Date: 2026-12-03 01:00:00

One row per tag (`node:<id>`, `tree:<id>`, `nav`) that has changed since the table was made; a
tag without a row is at version 0. The page cache and the ETag of anonymous pages read them.
Every page also carries the tag `site`, which starts here at a random version: a page kept from
another database (a store directory reused by a new one) never matches this one.
"""
import datetime as dt
import secrets

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'portal_0005'
down_revision: Union[str, Sequence[str], None] = 'portal_0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'page_tags',
        sa.Column('tag', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('changed', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('tag', name=op.f('pk_page_tags')),
    )
    op.execute(sa.text("INSERT INTO page_tags (tag, version, changed) VALUES ('site', :v, :now)")
               .bindparams(v=secrets.randbelow(2**31 - 1) + 1, now=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)))


def downgrade() -> None:
    op.drop_table('page_tags')
