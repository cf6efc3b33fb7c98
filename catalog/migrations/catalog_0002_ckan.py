"""catalog: the CKAN outbox and the CKAN package of each dataset

Revision ID: catalog_0002
Revises: catalog_0001
Create Date: 2026-12-02 21:40:00

Neither table has a foreign key to `nodes`: a deleted dataset's rows must still name its package.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'catalog_0002'
down_revision: Union[str, Sequence[str], None] = 'catalog_0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('ckan_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('not_before', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ckan_outbox'))
    )
    with op.batch_alter_table('ckan_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ckan_outbox_node_id'), ['node_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ckan_outbox_not_before'), ['not_before'], unique=False)

    op.create_table('ckan_packages',
    sa.Column('node_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('ckan_id', sa.String(length=100), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('resources', sa.JSON(), nullable=False),
    sa.Column('sent_hash', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('synced_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('node_id', name=op.f('pk_ckan_packages')),
    sa.UniqueConstraint('name', name=op.f('uq_ckan_packages_name'))
    )


def downgrade() -> None:
    op.drop_table('ckan_packages')
    with op.batch_alter_table('ckan_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ckan_outbox_not_before'))
        batch_op.drop_index(batch_op.f('ix_ckan_outbox_node_id'))
    op.drop_table('ckan_outbox')
