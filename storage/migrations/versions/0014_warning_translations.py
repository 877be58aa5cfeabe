"""warning translations: staff's translation of a warning's summary per language

Warning summaries are written in English. A member who hears another
language is read the category in their language and the English summary in
an English voice, until staff add a translation here (issue 18).

Revision ID: 0014_warning_translations
Revises: 0013
Create Date: 2026-12-03 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_warning_translations"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "warning_translations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("warning_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["warning_id"], ["warnings.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("warning_id", "language"),
    )
    op.create_index("ix_warning_translations_warning_id", "warning_translations", ["warning_id"])


def downgrade() -> None:
    op.drop_index("ix_warning_translations_warning_id", table_name="warning_translations")
    op.drop_table("warning_translations")
