"""citizen signing credentials and signature records

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_credential",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("active_person_id", sa.String(length=36), nullable=True),
        sa.Column("key_ref", sa.JSON(), nullable=False),
        sa.Column("alg", sa.String(length=10), nullable=False),
        sa.Column("certificate_serial", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("active_person_id"),
    )
    op.create_index("ix_signing_credential_person_id", "signing_credential", ["person_id"])
    op.create_index("ix_signing_credential_certificate_serial", "signing_credential",
                    ["certificate_serial"])
    op.create_table(
        "signature_record",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("credential_id", sa.String(length=36), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("person_id", sa.String(length=36), nullable=True),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["credential_id"], ["signing_credential.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signature_record_credential_id", "signature_record", ["credential_id"])
    op.create_index("ix_signature_record_client_id", "signature_record", ["client_id"])
    op.create_index("ix_signature_record_person_id", "signature_record", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_signature_record_person_id", table_name="signature_record")
    op.drop_index("ix_signature_record_client_id", table_name="signature_record")
    op.drop_index("ix_signature_record_credential_id", table_name="signature_record")
    op.drop_table("signature_record")
    op.drop_index("ix_signing_credential_certificate_serial", table_name="signing_credential")
    op.drop_index("ix_signing_credential_person_id", table_name="signing_credential")
    op.drop_table("signing_credential")
