"""per-address sign-in limit over a sliding window: sign_in_windows replaces sign_in_attempts

Revision ID: 0010_sliding_sign_in_window
Revises: 0009_periodic_runs
Create Date: 2026-12-03 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_sliding_sign_in_window"
down_revision: str | None = "0009_periodic_runs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The fixed windows' counts are dropped, not carried over: at most one
    # window's worth of failures is forgotten, once, at the upgrade.
    op.drop_table("sign_in_attempts")
    op.create_table(
        "sign_in_windows",
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("previous_attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("client", name=op.f("pk_sign_in_windows")),
    )
    op.create_index(op.f("ix_sign_in_windows_window_start"), "sign_in_windows", ["window_start"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sign_in_windows_window_start"), table_name="sign_in_windows")
    op.drop_table("sign_in_windows")
    op.create_table(
        "sign_in_attempts",
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("client", "window_start", name=op.f("pk_sign_in_attempts")),
    )
