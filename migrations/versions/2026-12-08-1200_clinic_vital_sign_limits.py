"""clinic vital-sign limits

The clinic's own vital-sign ranges as a history of changes: the newest change of a sign is in
force, empty ranges are the knowledge base's defaults again.

Revision ID: 1302
Revises: 1301
Create Date: 2026-12-08 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1302"
down_revision: str | None = "1301"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vital_sign_limit_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("possible_low", sa.Float(), nullable=True),
        sa.Column("possible_high", sa.Float(), nullable=True),
        sa.Column("usual_low", sa.Float(), nullable=True),
        sa.Column("usual_high", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.Integer(), nullable=True),
        sa.Column("changed_by_name", sa.String(length=80), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "possible_low IS NULL OR possible_low < possible_high",
            name=op.f("ck_vital_sign_limit_changes_possible_order"),
        ),
        sa.CheckConstraint(
            "usual_low IS NULL OR usual_low <= usual_high",
            name=op.f("ck_vital_sign_limit_changes_usual_order"),
        ),
        sa.ForeignKeyConstraint(
            ["changed_by"],
            ["users.id"],
            name=op.f("fk_vital_sign_limit_changes_changed_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vital_sign_limit_changes")),
    )
    with op.batch_alter_table("vital_sign_limit_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_vital_sign_limit_changes_kind", ["kind", "changed_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("vital_sign_limit_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_vital_sign_limit_changes_kind")

    op.drop_table("vital_sign_limit_changes")
