"""masked-call minute reservations: calls.reserved_seconds, reserved_at, settled_seconds

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("reserved_seconds", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reserved_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("settled_seconds", sa.Integer(), nullable=True))
        batch.create_index("ix_calls_member_reserved", ["member_id", "reserved_at"], unique=False)
    # Masked calls placed before reservations existed still count today: as
    # reserved and settled at the duration logged (the whole call's, an upper
    # bound), or a full hour when none was.
    op.execute(
        "UPDATE calls SET reserved_at = created_at,"
        " reserved_seconds = COALESCE(duration_seconds, 3600), settled_seconds = duration_seconds"
        " WHERE direction = 'masked'"
    )


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_member_reserved")
        batch.drop_column("settled_seconds")
        batch.drop_column("reserved_at")
        batch.drop_column("reserved_seconds")
