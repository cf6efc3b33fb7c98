"""catalog: datasets and their resources

Revision ID: catalog_0001
Revises:
Create Date: 2026-12-02 15:24:43.644578

The root of the `catalog` branch; its tables join `nodes`, so it depends on the core's head.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'catalog_0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = ('catalog',)
depends_on: Union[str, Sequence[str], None] = 'portal_0002'


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('dataset_resources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('url', sa.String(length=1000), nullable=False),
    sa.Column('format', sa.String(length=20), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('downloads', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['id'], ['nodes.id'], name=op.f('fk_dataset_resources_id_nodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dataset_resources'))
    )
    with op.batch_alter_table('dataset_resources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dataset_resources_format'), ['format'], unique=False)

    op.create_table('datasets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('theme', sa.String(length=20), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('license', sa.String(length=50), nullable=False),
    sa.Column('open_class', sa.String(length=10), nullable=False),
    sa.Column('update_frequency', sa.String(length=10), nullable=False),
    sa.Column('temporal_start', sa.Date(), nullable=True),
    sa.Column('temporal_end', sa.Date(), nullable=True),
    sa.Column('spatial', sa.String(length=200), nullable=False),
    sa.Column('contact_name', sa.String(length=100), nullable=False),
    sa.Column('contact_phone', sa.String(length=40), nullable=False),
    sa.Column('contact_email', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['id'], ['nodes.id'], name=op.f('fk_datasets_id_nodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_datasets'))
    )
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_datasets_open_class'), ['open_class'], unique=False)
        batch_op.create_index(batch_op.f('ix_datasets_theme'), ['theme'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_datasets_theme'))
        batch_op.drop_index(batch_op.f('ix_datasets_open_class'))

    op.drop_table('datasets')
    with op.batch_alter_table('dataset_resources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dataset_resources_format'))

    op.drop_table('dataset_resources')
