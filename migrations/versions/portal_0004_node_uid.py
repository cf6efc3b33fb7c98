"""nodes.uid: plone.restapi's UID

Revision ID: portal_0004
Revises: portal_0003
Create Date: 2026-12-03 00:10:00.000000

Every node gets a 32-hexadecimal-digit identifier (a UUID4) that the JSON API answers as `UID`:
existing nodes get one here, new ones when they are made (portal.models.node.new_uid).
"""
import uuid
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'portal_0004'
down_revision: Union[str, Sequence[str], None] = 'portal_0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

nodes = sa.table('nodes', sa.column('id', sa.Integer()), sa.column('uid', sa.String(32)))


def upgrade() -> None:
    with op.batch_alter_table('nodes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('uid', sa.String(length=32), nullable=True))
    connection = op.get_bind()
    for (node_id,) in connection.execute(sa.select(nodes.c.id)).all():
        connection.execute(nodes.update().where(nodes.c.id == node_id).values(uid=uuid.uuid4().hex))
    with op.batch_alter_table('nodes', schema=None) as batch_op:
        batch_op.alter_column('uid', existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_nodes_uid'), ['uid'])


def downgrade() -> None:
    with op.batch_alter_table('nodes', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_nodes_uid'), type_='unique')
        batch_op.drop_column('uid')
