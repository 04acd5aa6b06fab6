"""court documents say what a court needs: the true completion date, session titles only when
the court asks for them, contact attempts and the program's recommendation

Revision ID: 0012_document_contents
Revises: 0011_court_state
Create Date: 2026-12-07 17:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012_document_contents"
down_revision = "0011_court_state"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "contact_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrollment_id", sa.Integer(), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=200), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["enrollments.id"],
            name=op.f("fk_contact_attempts_enrollment_id_enrollments"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_contact_attempts_recorded_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_attempts")),
    )
    op.create_index(
        op.f("ix_contact_attempts_enrollment_id"),
        "contact_attempts",
        ["enrollment_id"],
        unique=False,
    )
    with op.batch_alter_table("enrollments") as batch:
        batch.add_column(
            sa.Column("recommendation", sa.String(length=40), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("recommendation_text", sa.Text(), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("may_reenroll", sa.Boolean(), nullable=True))
    with op.batch_alter_table("certificates") as batch:
        batch.add_column(sa.Column("completed_on", sa.Date(), nullable=True))
    with op.batch_alter_table("courts") as batch:
        batch.add_column(
            sa.Column(
                "session_titles_on_documents",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )


def downgrade():
    with op.batch_alter_table("enrollments") as batch:
        batch.drop_column("may_reenroll")
        batch.drop_column("recommendation_text")
        batch.drop_column("recommendation")
    op.drop_table("contact_attempts")
    with op.batch_alter_table("courts") as batch:
        batch.drop_column("session_titles_on_documents")
    with op.batch_alter_table("certificates") as batch:
        batch.drop_column("completed_on")
