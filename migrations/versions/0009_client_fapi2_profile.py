"""client: the FAPI 2.0 profile (PAR, DPoP, signing algorithm) and encrypted responses

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 23:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = (
    ("profile", sa.String(length=10), "basic"),
    ("token_endpoint_auth_signing_alg", sa.String(length=10), None),
    ("require_pushed_authorization_requests", sa.Boolean(), sa.false()),
    ("dpop_bound_access_tokens", sa.Boolean(), sa.false()),
    ("id_token_encrypted_response_alg", sa.String(length=20), None),
    ("id_token_encrypted_response_enc", sa.String(length=20), None),
    ("userinfo_encrypted_response_alg", sa.String(length=20), None),
    ("userinfo_encrypted_response_enc", sa.String(length=20), None),
)


def upgrade() -> None:
    with op.batch_alter_table("client") as table:
        for name, type_, default in COLUMNS:
            if default is None:
                table.add_column(sa.Column(name, type_, nullable=True))
            else:
                table.add_column(sa.Column(name, type_, nullable=False,
                                           server_default=default))


def downgrade() -> None:
    with op.batch_alter_table("client") as table:
        for name, _type, _default in reversed(COLUMNS):
            table.drop_column(name)
