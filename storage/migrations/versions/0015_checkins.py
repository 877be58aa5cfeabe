"""check-in timers: duress PIN and buddy on members, staff on call, checkins, checkin_alarms

Revision ID: 0015_checkins
Revises: 0014_warning_translations
Create Date: 2026-12-03 12:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_checkins"
down_revision: str | None = "0014_warning_translations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("state IN ('open', 'calling')")


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("duress_pin_hash", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("buddy_encrypted", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("buddy_index", sa.String(length=64), nullable=True))
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("on_call", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "checkins",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=14), nullable=False),
        sa.Column("set_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=True),
        sa.Column("pin_failures", sa.Integer(), nullable=False),
        sa.Column("last_miss", sa.String(length=20), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_checkins_member_id_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkins")),
    )
    op.create_index(
        "uq_checkins_open_member",
        "checkins",
        ["member_id"],
        unique=True,
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )
    op.create_index("ix_checkins_state_next", "checkins", ["state", "next_attempt_at"])
    op.create_table(
        "checkin_alarms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("checkin_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=15), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("last_call_id", sa.Integer(), nullable=True),
        sa.Column("staff_notified_at", sa.DateTime(), nullable=True),
        sa.Column("buddy_call", sa.String(length=12), nullable=False),
        sa.Column("buddy_call_sid", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by_staff_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["checkin_id"],
            ["checkins.id"],
            name=op.f("fk_checkin_alarms_checkin_id_checkins"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_checkin_alarms_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["last_call_id"],
            ["calls.id"],
            name=op.f("fk_checkin_alarms_last_call_id_calls"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_staff_id"], ["staff.id"], name=op.f("fk_checkin_alarms_closed_by_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin_alarms")),
        sa.UniqueConstraint("checkin_id", name=op.f("uq_checkin_alarms_checkin_id")),
    )
    op.create_index(op.f("ix_checkin_alarms_member_id"), "checkin_alarms", ["member_id"])
    op.create_index(op.f("ix_checkin_alarms_raised_at"), "checkin_alarms", ["raised_at"])


def downgrade() -> None:
    op.drop_table("checkin_alarms")
    op.drop_index("ix_checkins_state_next", table_name="checkins")
    op.drop_index("uq_checkins_open_member", table_name="checkins")
    op.drop_table("checkins")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("on_call")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("buddy_index")
        batch_op.drop_column("buddy_encrypted")
        batch_op.drop_column("duress_pin_hash")
