"""signature_record.document_sha256 holds any hash signHash accepts (up to SHA-512)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 23:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot ALTER a column's type in place
    with op.batch_alter_table("signature_record") as table:
        table.alter_column("document_sha256", existing_type=sa.String(length=64),
                           type_=sa.String(length=128), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("signature_record") as table:
        table.alter_column("document_sha256", existing_type=sa.String(length=128),
                           type_=sa.String(length=64), existing_nullable=False)
