"""grant: the DPoP key (RFC 9449 thumbprint) a token family is bound to

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("grant") as table:
        table.add_column(sa.Column("dpop_jkt", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("grant") as table:
        table.drop_column("dpop_jkt")
