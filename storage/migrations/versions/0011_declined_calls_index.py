"""risk signals: a partial index on the declined or blocked calls, by time,
so the periodic count reads a month's declines without a month's calls

Revision ID: 0011_declined_calls_index
Revises: 0010_sliding_sign_in_window
Create Date: 2026-12-03 14:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_declined_calls_index"
down_revision: str | None = "0010_sliding_sign_in_window"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(
            "ix_calls_declined_created",
            ["created_at"],
            unique=False,
            postgresql_where=sa.text("declined OR blocked"),
            sqlite_where=sa.text("declined OR blocked"),
        )


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_declined_created")
