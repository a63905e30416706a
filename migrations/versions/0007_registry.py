"""e-license and e-certificate registry

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_document",
        sa.Column("id", sa.String(length=43), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("holder", sa.JSON(), nullable=False),
        sa.Column("holder_id_hash", sa.String(length=64), nullable=True),
        sa.Column("holder_id_sealed", sa.Text(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("status_reason", sa.String(length=200), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column("document_size", sa.BigInteger(), nullable=False),
        sa.Column("seal_serial", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_registry_document_client_id", "registry_document", ["client_id"])
    op.create_index("ix_registry_document_holder_id_hash", "registry_document",
                    ["holder_id_hash"])
    op.create_index("ix_registry_document_document_sha256", "registry_document",
                    ["document_sha256"])


def downgrade() -> None:
    op.drop_index("ix_registry_document_document_sha256", table_name="registry_document")
    op.drop_index("ix_registry_document_holder_id_hash", table_name="registry_document")
    op.drop_index("ix_registry_document_client_id", table_name="registry_document")
    op.drop_table("registry_document")
