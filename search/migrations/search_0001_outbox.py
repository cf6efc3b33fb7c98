"""search outbox

Revision ID: search_0001
Revises:
Create Date: 2026-12-02 11:20:26.000000

The root of the `search` branch. Its rows name nodes without a foreign key (deleted nodes stay
named), but it belongs after the core. Until the branches, this was revision '0002';
portal.migrate re-stamps such databases.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'search_0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = ('search',)
depends_on: Union[str, Sequence[str], None] = 'portal_0001'


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('search_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('op', sa.String(length=10), nullable=False),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_outbox'))
    )
    with op.batch_alter_table('search_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_outbox_node_id'), ['node_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('search_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_outbox_node_id'))

    op.drop_table('search_outbox')
