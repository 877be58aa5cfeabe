"""risk signals: the periodic count reads only index pages. A covering index
on the time of members' calls from a known caller, and the declines' partial
index made covering too, so the count never visits the calls themselves
(which lie all over the table), only the index entries of its windows;
and the plain index on the caller index dropped, as ix_calls_caller_created
(caller index, time) serves every lookup by caller and one index fewer is
written for each call

Revision ID: 0016_signal_covering_indexes
Revises: 0015_checkins
Create Date: 2026-12-03 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_signal_covering_indexes"
down_revision: str | None = "0015_checkins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What the count reads of each call (storage/signals.py, _activity).
COUNTED = ["other_party_index", "member_id", "other_party_last3", "direction"]
KNOWN_CALLER = "member_id IS NOT NULL AND other_party_index IS NOT NULL"
DECLINED = "declined OR blocked"


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_other_party_index")
        batch_op.drop_index("ix_calls_declined_created")
        batch_op.create_index(
            "ix_calls_declined_created",
            ["created_at"],
            unique=False,
            postgresql_include=COUNTED,
            postgresql_where=sa.text(DECLINED),
            sqlite_where=sa.text(DECLINED),
        )
        batch_op.create_index(
            "ix_calls_known_caller_created",
            ["created_at"],
            unique=False,
            postgresql_include=COUNTED,
            postgresql_where=sa.text(KNOWN_CALLER),
            sqlite_where=sa.text(KNOWN_CALLER),
        )


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_known_caller_created")
        batch_op.drop_index("ix_calls_declined_created")
        batch_op.create_index(
            "ix_calls_declined_created",
            ["created_at"],
            unique=False,
            postgresql_where=sa.text(DECLINED),
            sqlite_where=sa.text(DECLINED),
        )
        batch_op.create_index("ix_calls_other_party_index", ["other_party_index"], unique=False)
