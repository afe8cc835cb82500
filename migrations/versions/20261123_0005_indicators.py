"""canonical records and indicators

Per-form mapping documents (versioned), canonical records and roster persons normalised from
submissions, the unmapped-values review queue, and ``indicator_facts``: one row per unit an indicator
counts, with its numerator/denominator/n contributions and denormalised dimensions, so every indicator is
a ``SUM ... GROUP BY`` over one table on both databases (app/models/indicators.py).

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "indicator_facts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("review_state", sa.String(length=16), nullable=False),
        sa.Column("mapping_version", sa.String(length=300), nullable=False),
        sa.Column("indicator", sa.String(length=16), nullable=False),
        sa.Column("breakdown", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("person_index", sa.Integer(), nullable=False),
        sa.Column("num", sa.Float(), nullable=False),
        sa.Column("den", sa.Float(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("dk", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("period", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=64), nullable=False),
        sa.Column("adm1", sa.String(length=64), nullable=False),
        sa.Column("adm2", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("population_type", sa.String(length=64), nullable=False),
        sa.Column("route_stage", sa.String(length=64), nullable=False),
        sa.Column("nationality", sa.String(length=64), nullable=False),
        sa.Column("sex_gender", sa.String(length=64), nullable=False),
        sa.Column("age_band", sa.String(length=64), nullable=False),
        sa.Column("disability", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["form_id"], ["forms.id"], name=op.f("fk_indicator_facts_form_id_forms")),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_indicator_facts_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_indicator_facts_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_facts")),
    )
    op.create_index(
        "ix_indicator_facts_project_indicator", "indicator_facts", ["project_id", "indicator"], unique=False
    )
    op.create_index("ix_indicator_facts_submission", "indicator_facts", ["submission_id"], unique=False)
    op.create_table(
        "indicator_mappings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("form_version_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column(
            "document",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_indicator_mappings_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["form_id"], ["forms.id"], name=op.f("fk_indicator_mappings_form_id_forms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["form_version_id"],
            ["form_versions.id"],
            name=op.f("fk_indicator_mappings_form_version_id_form_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_mappings")),
        sa.UniqueConstraint("form_id", "version", name=op.f("uq_indicator_mappings_form_id_version")),
    )
    op.create_index(
        "ix_indicator_mappings_form_status", "indicator_mappings", ["form_id", "status"], unique=False
    )
    op.create_table(
        "canonical_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("source_version_id", sa.Integer(), nullable=True),
        sa.Column("mapping_id", sa.Integer(), nullable=True),
        sa.Column("mapping_version", sa.String(length=300), nullable=False),
        sa.Column("review_state", sa.String(length=16), nullable=False),
        sa.Column("excluded_reason", sa.String(length=32), nullable=True),
        sa.Column("has_roster", sa.Boolean(), nullable=False),
        sa.Column(
            "values",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "sources",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("normalised_at", app.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["form_id"], ["forms.id"], name=op.f("fk_canonical_records_form_id_forms")),
        sa.ForeignKeyConstraint(
            ["mapping_id"],
            ["indicator_mappings.id"],
            name=op.f("fk_canonical_records_mapping_id_indicator_mappings"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_canonical_records_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["source_version_id"],
            ["submission_versions.id"],
            name=op.f("fk_canonical_records_source_version_id_submission_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_canonical_records_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canonical_records")),
        sa.UniqueConstraint("submission_id", name=op.f("uq_canonical_records_submission_id")),
    )
    op.create_index(
        "ix_canonical_records_project_form", "canonical_records", ["project_id", "form_id"], unique=False
    )
    op.create_table(
        "canonical_persons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("person_index", sa.Integer(), nullable=False),
        sa.Column(
            "values",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "sources",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["canonical_records.id"],
            name=op.f("fk_canonical_persons_record_id_canonical_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canonical_persons")),
        sa.UniqueConstraint(
            "record_id", "person_index", name=op.f("uq_canonical_persons_record_id_person_index")
        ),
    )
    op.create_table(
        "unmapped_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("mapping_version", sa.String(length=300), nullable=False),
        sa.Column("field", sa.String(length=128), nullable=False),
        sa.Column("source_path", sa.String(length=512), nullable=False),
        sa.Column("raw_value", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("person_index", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["form_id"], ["forms.id"], name=op.f("fk_unmapped_values_form_id_forms")),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_unmapped_values_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["canonical_records.id"],
            name=op.f("fk_unmapped_values_record_id_canonical_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unmapped_values")),
    )
    op.create_index(
        "ix_unmapped_values_project_form", "unmapped_values", ["project_id", "form_id"], unique=False
    )
    op.create_index(op.f("ix_unmapped_values_record_id"), "unmapped_values", ["record_id"], unique=False)
    op.create_table(
        "indicator_refresh_marks",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("version_mark", sa.Integer(), nullable=False),
        sa.Column("review_mark", sa.Integer(), nullable=False),
        sa.Column("mapping_mark", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", app.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_indicator_refresh_marks_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_indicator_refresh_marks")),
    )


def downgrade() -> None:
    op.drop_table("indicator_refresh_marks")
    op.drop_table("unmapped_values")
    op.drop_table("canonical_persons")
    op.drop_table("canonical_records")
    op.drop_table("indicator_mappings")
    op.drop_table("indicator_facts")
