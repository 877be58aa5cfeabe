"""kept_forms: a console form posted after its session timed out, kept for its author

Revision ID: 0018_kept_forms
Revises: 0017_staff_links
Create Date: 2026-12-03 15:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_kept_forms"
down_revision: str | None = "0017_staff_links"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kept_forms",
        sa.Column("handle", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=300), nullable=False),
        sa.Column("fields_encrypted", sa.Text(), nullable=False),
        sa.Column("kept_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_kept_forms_staff_id_staff"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("handle", name=op.f("pk_kept_forms")),
        sa.UniqueConstraint("staff_id", name=op.f("uq_kept_forms_staff_id")),
    )
    op.create_index(op.f("ix_kept_forms_kept_at"), "kept_forms", ["kept_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_kept_forms_kept_at"), table_name="kept_forms")
    op.drop_table("kept_forms")
