"""units.banner (a unit's own header picture) and portals.conac_code (党政机关网站标识)

Revision ID: portal_0008
Revises: portal_0007
Create Date: 2026-12-03 10:00:00

A unit's sub-site shows its own name in the header and, when the unit sets one, its banner
picture (an uploaded image reference, like a news item's lead image). The portal's footer shows
the 党政机关网站标识 when the site has registered one: its number at conac.cn.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = 'portal_0008'
down_revision: Union[str, Sequence[str], None] = 'portal_0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('banner', sa.JSON(none_as_null=True), nullable=True))
    # the existing root gets '' through a server default, which then goes: the model sets the value
    with op.batch_alter_table('portals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('conac_code', sa.String(length=50), nullable=False, server_default=''))
    with op.batch_alter_table('portals', schema=None) as batch_op:
        batch_op.alter_column('conac_code', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('portals', schema=None) as batch_op:
        batch_op.drop_column('conac_code')
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_column('banner')
