"""durable events: the events table replaces the outbox

Every event a webhook leaves for later is written here before Twilio is
answered; Redis only carries the row's id. Outbox entries not yet sent
become due events, so nothing waiting is lost in the upgrade.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "done_at IS NULL AND failed_at IS NULL"


def upgrade() -> None:
    events = op.create_table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=True),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("failed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("key", name=op.f("uq_events_key")),
    )
    op.create_index(
        "ix_events_pending",
        "events",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text(PENDING),
        sqlite_where=sa.text(PENDING),
    )
    outbox = sa.table(
        "outbox",
        sa.column("job_name", sa.String),
        sa.column("args", sa.JSON),
        sa.column("created_at", sa.DateTime),
        sa.column("sent_at", sa.DateTime),
    )
    connection = op.get_bind()
    waiting = connection.execute(
        sa.select(outbox.c.job_name, outbox.c.args, outbox.c.created_at)
        .where(outbox.c.sent_at.is_(None))
        .order_by(outbox.c.created_at)
    ).all()
    if waiting:
        op.bulk_insert(
            events,
            [
                {
                    "job": row.job_name,
                    "key": None,
                    "args": (row.args or {}).get("args", []),
                    "created_at": row.created_at,
                    "due_at": row.created_at,
                    "attempts": 0,
                }
                for row in waiting
            ],
        )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_sent_at"))
    op.drop_table("outbox")


def downgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_name", sa.String(length=60), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_sent_at"), ["sent_at"], unique=False)
    op.drop_index("ix_events_pending", table_name="events")
    op.drop_table("events")
