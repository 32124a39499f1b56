"""infusion record: limits, completion, corrections and prescriber reviews

Documented entries get a ``record_status`` (final, amended, entered_in_error) and the
``corrections`` table keeps every correction with its reason and the earlier values; an
administration records the volume infused, the partial dose and why it ended early; rate
events keep the reason for running faster than the plan, premedications their dose in mg,
vital signs their abnormal flag; ``plan_reviews`` holds a plan pending a prescriber's review
after a grade 4 or 5 infusion reaction.

Revision ID: 1301
Revises: 0040
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1301"
down_revision: str | None = "0040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORD_STATUS_IN = "record_status IN ('final', 'amended', 'entered_in_error')"


def upgrade() -> None:
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("resource", sa.String(length=30), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("previous", sa.JSON(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=80), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "action IN ('entered_in_error', 'amended')", name=op.f("ck_corrections_action")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_corrections_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_corrections_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corrections")),
    )
    with op.batch_alter_table("corrections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_corrections_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(
            "ix_corrections_resource_record", ["resource", "record_id"], unique=False
        )

    op.create_table(
        "plan_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("administration_id", sa.Integer(), nullable=True),
        sa.Column("reaction_grade", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(length=12), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_by_name", sa.String(length=80), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "decision IS NULL OR decision IN ('discontinue', 'resume', 'stop')",
            name=op.f("ck_plan_reviews_decision"),
        ),
        sa.ForeignKeyConstraint(
            ["administration_id"],
            ["administrations.id"],
            name=op.f("fk_plan_reviews_administration_id_administrations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["users.id"],
            name=op.f("fk_plan_reviews_decided_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_plan_reviews_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["treatment_plans.id"],
            name=op.f("fk_plan_reviews_plan_id_treatment_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.id"],
            name=op.f("fk_plan_reviews_requested_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_reviews")),
    )
    with op.batch_alter_table("plan_reviews", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plan_reviews_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_plan_reviews_plan_id"), ["plan_id"], unique=False)

    with op.batch_alter_table("administrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("volume_infused_ml", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("dose_given_mg", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("completion_reason", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("record_status", sa.String(length=16), server_default="final", nullable=False)
        )
        batch_op.create_check_constraint("record_status", RECORD_STATUS_IN)

    with op.batch_alter_table("infusion_reactions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("record_status", sa.String(length=16), server_default="final", nullable=False)
        )
        batch_op.create_check_constraint("record_status", RECORD_STATUS_IN)

    with op.batch_alter_table("labs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("record_status", sa.String(length=16), server_default="final", nullable=False)
        )
        batch_op.create_check_constraint("record_status", RECORD_STATUS_IN)

    with op.batch_alter_table("premedications_given", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dose_mg", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("record_status", sa.String(length=16), server_default="final", nullable=False)
        )
        batch_op.create_check_constraint("record_status", RECORD_STATUS_IN)

    with op.batch_alter_table("rate_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("record_status", sa.String(length=16), server_default="final", nullable=False)
        )
        batch_op.create_check_constraint("record_status", RECORD_STATUS_IN)

    with op.batch_alter_table("vital_signs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flag", sa.String(length=8), nullable=True))
        batch_op.add_column(
            sa.Column("record_status", sa.String(length=16), server_default="final", nullable=False)
        )
        batch_op.create_check_constraint("record_status", RECORD_STATUS_IN)


def downgrade() -> None:
    with op.batch_alter_table("vital_signs", schema=None) as batch_op:
        batch_op.drop_constraint("record_status", type_="check")
        batch_op.drop_column("record_status")
        batch_op.drop_column("flag")

    with op.batch_alter_table("rate_events", schema=None) as batch_op:
        batch_op.drop_constraint("record_status", type_="check")
        batch_op.drop_column("record_status")
        batch_op.drop_column("reason")

    with op.batch_alter_table("premedications_given", schema=None) as batch_op:
        batch_op.drop_constraint("record_status", type_="check")
        batch_op.drop_column("record_status")
        batch_op.drop_column("dose_mg")

    with op.batch_alter_table("labs", schema=None) as batch_op:
        batch_op.drop_constraint("record_status", type_="check")
        batch_op.drop_column("record_status")

    with op.batch_alter_table("infusion_reactions", schema=None) as batch_op:
        batch_op.drop_constraint("record_status", type_="check")
        batch_op.drop_column("record_status")

    with op.batch_alter_table("administrations", schema=None) as batch_op:
        batch_op.drop_constraint("record_status", type_="check")
        batch_op.drop_column("record_status")
        batch_op.drop_column("completion_reason")
        batch_op.drop_column("dose_given_mg")
        batch_op.drop_column("volume_infused_ml")

    with op.batch_alter_table("plan_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_reviews_plan_id"))
        batch_op.drop_index(batch_op.f("ix_plan_reviews_patient_id"))

    op.drop_table("plan_reviews")
    with op.batch_alter_table("corrections", schema=None) as batch_op:
        batch_op.drop_index("ix_corrections_resource_record")
        batch_op.drop_index(batch_op.f("ix_corrections_patient_id"))

    op.drop_table("corrections")
