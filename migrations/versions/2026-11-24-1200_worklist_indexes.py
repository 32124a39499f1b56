"""worklist indexes

The adherence worklist aggregates the doses given in a date range: an index on
(status, given_on) with the columns it reads (agent, planned_on) lets both databases read
just that range, in date order, from the index alone.

Revision ID: 0002
Revises: 0010
Create Date: 2026-11-24 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
# After the sign-in tables (0010), the head of the branch this index was written on.
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("planned_doses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_planned_doses_status_given",
            ["status", "given_on", "agent", "planned_on"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("planned_doses", schema=None) as batch_op:
        batch_op.drop_index("ix_planned_doses_status_given")
