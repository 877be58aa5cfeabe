"""staff_links: one-time invitation, password-reset and TOTP-reset links (hashed)

Revision ID: 0017_staff_links
Revises: 0016_signal_covering_indexes
Create Date: 2026-12-03 15:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_staff_links"
down_revision: str | None = "0016_signal_covering_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=12), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_staff_links_staff_id_staff"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["created_by"], ["staff.id"], name=op.f("fk_staff_links_created_by_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_links_token_hash")),
    )
    op.create_index(op.f("ix_staff_links_staff_id"), "staff_links", ["staff_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_staff_links_staff_id"), table_name="staff_links")
    op.drop_table("staff_links")
