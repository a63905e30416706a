"""agency seal credentials

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seal_credential",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("active_client_id", sa.String(length=64), nullable=True),
        sa.Column("key_ref", sa.JSON(), nullable=False),
        sa.Column("alg", sa.String(length=10), nullable=False),
        sa.Column("certificate_serial", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["client.client_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("active_client_id"),
    )
    op.create_index("ix_seal_credential_client_id", "seal_credential", ["client_id"])


def downgrade() -> None:
    op.drop_index("ix_seal_credential_client_id", table_name="seal_credential")
    op.drop_table("seal_credential")
