"""periodic_runs: which process ran each slot of a periodic job (embedded mode)

Revision ID: 0009_periodic_runs
Revises: 0008
Create Date: 2026-12-03 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_periodic_runs"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "periodic_runs",
        sa.Column("job_name", sa.String(length=60), nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("job_name", "slot", name=op.f("pk_periodic_runs")),
    )
    op.create_index(op.f("ix_periodic_runs_claimed_at"), "periodic_runs", ["claimed_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_periodic_runs_claimed_at"), table_name="periodic_runs")
    op.drop_table("periodic_runs")
