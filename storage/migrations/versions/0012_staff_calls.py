"""masked calls from the console: staff.phone_encrypted, members.scheme_calls,
staff_calls, callback_requests

Revision ID: 0012
Revises: 0011_declined_calls_index
Create Date: 2026-12-03 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011_declined_calls_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("closed_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_encrypted", sa.Text(), nullable=True))
    with op.batch_alter_table("members", schema=None) as batch_op:
        # Every member so far may be called (the preference did not exist).
        batch_op.add_column(sa.Column("scheme_calls", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.create_table(
        "staff_calls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=12), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("checkin_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=13), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("call_sid", sa.String(length=64), nullable=True),
        sa.Column("member_call_sid", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("connected_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("talk_seconds", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_staff_calls_staff_id_staff")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_staff_calls_member_id_members")),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_staff_calls_report_id_reports"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_calls")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_staff_calls_call_sid")),
        sa.UniqueConstraint("member_call_sid", name=op.f("uq_staff_calls_member_call_sid")),
    )
    op.create_index("ix_staff_calls_staff_created", "staff_calls", ["staff_id", "created_at"])
    op.create_index(op.f("ix_staff_calls_member_id"), "staff_calls", ["member_id"])
    op.create_index(op.f("ix_staff_calls_report_id"), "staff_calls", ["report_id"])
    op.create_index(op.f("ix_staff_calls_checkin_id"), "staff_calls", ["checkin_id"])
    op.create_table(
        "callback_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by_staff_id", sa.Integer(), nullable=True),
        sa.Column("closed_by_call_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_callback_requests_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_staff_id"], ["staff.id"], name=op.f("fk_callback_requests_closed_by_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_call_id"],
            ["staff_calls.id"],
            name=op.f("fk_callback_requests_closed_by_call_id_staff_calls"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_requests")),
    )
    op.create_index(
        "uq_callback_requests_open_member",
        "callback_requests",
        ["member_id"],
        unique=True,
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )
    op.create_index(op.f("ix_callback_requests_closed_at"), "callback_requests", ["closed_at"])


def downgrade() -> None:
    op.drop_table("callback_requests")
    op.drop_table("staff_calls")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("scheme_calls")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("phone_encrypted")
