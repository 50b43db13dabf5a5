"""families: consent to be named in the national reporting tool

Revision ID: a31b0e8fb2f1
Revises: c66e43390980
Create Date: 2026-11-24 02:42:54.104299

"""
from alembic import op
import sqlalchemy as sa

import workshops.core.models


# revision identifiers, used by Alembic.
revision = 'a31b0e8fb2f1'
down_revision = 'c66e43390980'
branch_labels = None
depends_on = None


def upgrade():
    # Existing households have not been asked: false until the conseiller records a yes.
    with op.batch_alter_table('families', schema=None) as batch_op:
        batch_op.add_column(sa.Column('has_naming_consent', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('families', schema=None) as batch_op:
        batch_op.drop_column('has_naming_consent')
