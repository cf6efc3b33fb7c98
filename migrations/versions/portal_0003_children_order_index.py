"""nodes: an index on (parent_id, position)

Revision ID: portal_0003
Revises: portal_0002
Create Date: 2026-12-02 23:00:00

Adding an item asks for the container's last position, and listings read children in their
order: with this index both are answered from the index, not by reading every child.
"""
from typing import Sequence, Union

from alembic import op


revision: str = 'portal_0003'
down_revision: Union[str, Sequence[str], None] = 'portal_0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('nodes', schema=None) as batch_op:
        batch_op.create_index('ix_nodes_parent_position', ['parent_id', 'position'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('nodes', schema=None) as batch_op:
        batch_op.drop_index('ix_nodes_parent_position')
