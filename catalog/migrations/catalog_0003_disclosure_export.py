"""catalog: the disclosure catalogue export's state and its recorded changes

Revision ID: catalog_0003
Revises: catalog_0002
Create Date: 2026-12-03 10:00:00

`disclosure_exports` keeps the export's dataset, resource and last generation (SET NULL when an
editor deletes them, so a reused id is never taken for them); `disclosure_export_changes` is only
ever inserted into by content changes and emptied by the regeneration (catalog.disclosure_export).
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'catalog_0003'
down_revision: Union[str, Sequence[str], None] = 'catalog_0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('disclosure_export_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_export_changes'))
    )
    op.create_table('disclosure_exports',
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=True),
    sa.Column('resource_id', sa.Integer(), nullable=True),
    sa.Column('generated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['dataset_id'], ['nodes.id'], name=op.f('fk_disclosure_exports_dataset_id_nodes'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resource_id'], ['nodes.id'], name=op.f('fk_disclosure_exports_resource_id_nodes'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_disclosure_exports'))
    )


def downgrade() -> None:
    op.drop_table('disclosure_exports')
    op.drop_table('disclosure_export_changes')
