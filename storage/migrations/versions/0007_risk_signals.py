"""risk signals: risk_signals, and the indexes that count a caller's recent
calls, blocks and reports by blind index

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "risk_signals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("caller_index", sa.String(length=64), nullable=False),
        sa.Column("caller_last3", sa.String(length=3), nullable=True),
        sa.Column("status", sa.String(length=13), nullable=False),
        sa.Column("rules", sa.String(length=40), nullable=False),
        sa.Column("reached_members", sa.Integer(), nullable=False),
        sa.Column("blocked_members", sa.Integer(), nullable=False),
        sa.Column("reported_members", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("counted_at", sa.DateTime(), nullable=False),
        sa.Column("dismissed_at", sa.DateTime(), nullable=True),
        sa.Column("dismissed_by_staff_id", sa.Integer(), nullable=True),
        sa.Column("dismiss_reason", sa.Text(), nullable=True),
        sa.Column("warning_id", sa.Integer(), nullable=True),
        sa.Column("alerted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dismissed_by_staff_id"], ["staff.id"], name=op.f("fk_risk_signals_dismissed_by_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["warning_id"],
            ["warnings.id"],
            name=op.f("fk_risk_signals_warning_id_warnings"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_signals")),
        sa.UniqueConstraint("caller_index", name=op.f("uq_risk_signals_caller_index")),
    )
    with op.batch_alter_table("risk_signals", schema=None) as batch_op:
        batch_op.create_index("ix_risk_signals_status_seen", ["status", "last_seen", "id"], unique=False)

    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.create_index("ix_blocks_caller_created", ["caller_index", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_blocks_created_at"), ["created_at"], unique=False)

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index("ix_calls_caller_created", ["other_party_index", "created_at"], unique=False)

    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index("ix_reports_caller_created", ["caller_index", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_caller_created")

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_caller_created")

    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blocks_created_at"))
        batch_op.drop_index("ix_blocks_caller_created")

    with op.batch_alter_table("risk_signals", schema=None) as batch_op:
        batch_op.drop_index("ix_risk_signals_status_seen")

    op.drop_table("risk_signals")
