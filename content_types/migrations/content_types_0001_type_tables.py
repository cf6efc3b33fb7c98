"""content type tables: folders, pages, news, disclosures, files, images

Revision ID: content_types_0001
Revises:
Create Date: 2026-12-02 11:20:26.000000

The root of the `content_types` branch; its tables join `nodes`, so it depends on the core
revision that creates it. Until the branches, these tables were made by the single revision
'0001'; portal.migrate re-stamps such databases.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'content_types_0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = ('content_types',)
depends_on: Union[str, Sequence[str], None] = 'portal_0001'


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('disclosure_serials',
    sa.Column('org_code', sa.String(length=50), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('org_code', 'year', name=op.f('pk_disclosure_serials'))
    )
    op.create_table('disclosures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('index_number', sa.String(length=80), nullable=True),
    sa.Column('publisher', sa.String(length=200), nullable=False),
    sa.Column('doc_number', sa.String(length=100), nullable=False),
    sa.Column('written_date', sa.Date(), nullable=True),
    sa.Column('subject', sa.String(length=50), nullable=False),
    sa.Column('genre', sa.String(length=20), nullable=False),
    sa.Column('disclosure_mode', sa.String(length=20), nullable=False),
    sa.Column('validity', sa.String(length=10), nullable=False),
    sa.Column('superseded_by', sa.String(length=80), nullable=False),
    sa.Column('keywords', sa.String(length=300), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('attachments', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['id'], ['nodes.id'], name=op.f('fk_disclosures_id_nodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosures')),
    sa.UniqueConstraint('index_number', name=op.f('uq_disclosures_index_number'))
    )
    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosures_doc_number'), ['doc_number'], unique=False)

    op.create_table('files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['id'], ['nodes.id'], name=op.f('fk_files_id_nodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_files'))
    )
    op.create_table('folders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('column_kind', sa.String(length=20), nullable=False),
    sa.Column('update_interval', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['id'], ['nodes.id'], name=op.f('fk_folders_id_nodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_folders'))
    )
    op.create_table('images',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('image', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['id'], ['nodes.id'], name=op.f('fk_images_id_nodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_images'))
    )
    op.create_table('news',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('lead_image', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['id'], ['nodes.id'], name=op.f('fk_news_id_nodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_news'))
    )
    op.create_table('pages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['id'], ['nodes.id'], name=op.f('fk_pages_id_nodes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pages'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('pages')
    op.drop_table('news')
    op.drop_table('images')
    op.drop_table('folders')
    op.drop_table('files')
    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosures_doc_number'))

    op.drop_table('disclosures')
    op.drop_table('disclosure_serials')
