"""no greeting by default: "neutral" becomes "none"

A spoken greeting before ``<Dial answerOnBridge>`` answers the call, so the
caller paid for every call the member declined or missed. The old default,
"neutral" ("please hold while we connect your call"), was never a member's
choice: those members now get no greeting. Members who chose "logged" keep
it (it is a deterrent they asked for); the console now tells them it makes
the caller pay.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE members SET greeting = 'none' WHERE greeting = 'neutral'")
    _greeting_length(11, 10)


def downgrade() -> None:
    _greeting_length(10, 11)
    op.execute("UPDATE members SET greeting = 'neutral' WHERE greeting = 'none'")


def _greeting_length(old: int, new: int) -> None:
    """The column is as wide as the longest value plus 4 (storage.models._enum)."""
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.alter_column(
            "greeting",
            existing_type=sa.String(length=old),
            type_=sa.String(length=new),
            existing_nullable=False,
        )
