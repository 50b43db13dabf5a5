"""audit: index of object_ref (a family's consent history)

Revision ID: b7d2e41c9a05
Revises: 61d540a57109
Create Date: 2026-11-24 06:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b7d2e41c9a05'
down_revision = '61d540a57109'
branch_labels = None
depends_on = None


def upgrade():
    # A plain CREATE INDEX (no batch mode): recreating audit_entries would drop its
    # append-only triggers.
    op.create_index('ix_audit_entries_object_ref', 'audit_entries', ['object_ref'], unique=False)


def downgrade():
    op.drop_index('ix_audit_entries_object_ref', table_name='audit_entries')
