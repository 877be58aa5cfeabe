"""members' access lines: safety_numbers.kind, access_calls, access_callers

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 10:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("safety_numbers", schema=None) as batch_op:
        # Every number already in the pool is a Safety Number.
        batch_op.add_column(sa.Column("kind", sa.String(length=10), server_default="safety", nullable=False))
    op.create_table(
        "access_calls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=True),
        sa.Column("pin_tried", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["safety_numbers.id"],
            name=op.f("fk_access_calls_line_id_safety_numbers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_calls")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_access_calls_call_sid")),
    )
    op.create_table(
        "access_callers",
        sa.Column("caller_index", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("caller_index", name=op.f("pk_access_callers")),
    )


def downgrade() -> None:
    op.drop_table("access_callers")
    op.drop_table("access_calls")
    with op.batch_alter_table("safety_numbers", schema=None) as batch_op:
        batch_op.drop_column("kind")
