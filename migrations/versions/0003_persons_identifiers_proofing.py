"""persons' identifiers, proofing events and federated links; a person's IAL is computed

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 19:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identifier",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("namespace", sa.String(length=40), nullable=False),
        sa.Column("lookup_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("lookup_hash"),
    )
    op.create_index("ix_identifier_person_id", "identifier", ["person_id"])
    op.create_table(
        "proofing_event",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("ial", sa.String(length=5), nullable=False),
        sa.Column("aal", sa.String(length=5), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("identifier_id", sa.Integer(), nullable=True),
        sa.Column("verification_process", sa.String(length=200), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("trail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["identifier_id"], ["identifier.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_proofing_event_person_id", "proofing_event", ["person_id"])
    op.create_table(
        "federated_link",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("upstream_subject", sa.String(length=255), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "upstream_subject"),
    )
    op.create_index("ix_federated_link_person_id", "federated_link", ["person_id"])
    # The fixed per-person IAL gives way to proofing events.
    with op.batch_alter_table("person") as batch:
        batch.drop_column("ial")


def downgrade() -> None:
    with op.batch_alter_table("person") as batch:
        batch.add_column(sa.Column("ial", sa.String(length=5), nullable=False,
                                   server_default="1.1"))
    op.drop_index("ix_federated_link_person_id", table_name="federated_link")
    op.drop_table("federated_link")
    op.drop_index("ix_proofing_event_person_id", table_name="proofing_event")
    op.drop_table("proofing_event")
    op.drop_index("ix_identifier_person_id", table_name="identifier")
    op.drop_table("identifier")
