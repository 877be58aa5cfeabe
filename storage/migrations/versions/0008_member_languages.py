"""members' languages: what the member hears, and what their callers hear

``language`` is the language of everything the member hears (the whisper,
the menu after the PIN, confirmations); ``caller_language`` the language of
what callers to their Safety Number may hear (the optional greeting, "not
available"). Both are codes of ``callflows.languages``; English by default,
so existing members hear what they always heard.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), server_default="en", nullable=False))
        batch_op.add_column(
            sa.Column("caller_language", sa.String(length=8), server_default="en", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("caller_language")
        batch_op.drop_column("language")
