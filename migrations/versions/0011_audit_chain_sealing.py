"""audit_event: events are chained after commit (chain_pos), not under a lock at insert

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 01:20:00

Until now every event took the chain lock inside the request that recorded it, so every audited
request of every node was serialised behind it. From now on an event is inserted unchained
(prev_hash, hash and chain_pos NULL) and a sealer links committed events in batches
(idp.audit.seal). The chain order is `chain_pos`; existing events were chained in `seq` order
under the lock, so their position is their seq.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_event") as table:
        table.add_column(sa.Column("chain_pos", sa.BigInteger(), nullable=True))
        table.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=True)
        table.alter_column("hash", existing_type=sa.String(length=64), nullable=True)
        table.create_unique_constraint("uq_audit_event_chain_pos", ["chain_pos"])
    op.execute("UPDATE audit_event SET chain_pos = seq")


def downgrade() -> None:
    # Events recorded but not yet sealed cannot satisfy NOT NULL: seal them first
    # (`idp audit verify` does), or the downgrade fails here rather than losing them.
    with op.batch_alter_table("audit_event") as table:
        table.drop_constraint("uq_audit_event_chain_pos", type_="unique")
        table.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        table.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        table.drop_column("chain_pos")
