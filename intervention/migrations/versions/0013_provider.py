"""provider letterhead; identifiers and referral parties on the enrollment

Revision ID: 0013_provider
Revises: 0012_document_contents
Create Date: 2026-12-07 17:20:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013_provider"
down_revision = "0012_document_contents"
branch_labels = None
depends_on = None

PARTIES = ("court_department", "prosecutor", "defense_attorney", "probation_officer")


def upgrade():
    op.create_table(
        "providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("legal_name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("license_number", sa.String(length=80), nullable=False),
        sa.Column("director_name", sa.String(length=200), nullable=False),
        sa.Column("director_title", sa.String(length=200), nullable=False),
        sa.Column("logo", sa.LargeBinary(), nullable=True),
        sa.Column("logo_type", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
    )
    with op.batch_alter_table("courts") as batch:
        batch.add_column(
            sa.Column(
                "requires_date_of_birth",
                sa.Boolean(),
                nullable=False,
                server_default=sa.true(),
            )
        )
    with op.batch_alter_table("enrollments") as batch:
        batch.add_column(sa.Column("date_of_birth", sa.Date(), nullable=True))
        batch.add_column(
            sa.Column(
                "court_person_number", sa.String(length=80), nullable=False, server_default=""
            )
        )
        for name in PARTIES:
            batch.add_column(
                sa.Column(name, sa.String(length=200), nullable=False, server_default="")
            )


def downgrade():
    with op.batch_alter_table("enrollments") as batch:
        for name in reversed(PARTIES):
            batch.drop_column(name)
        batch.drop_column("court_person_number")
        batch.drop_column("date_of_birth")
    with op.batch_alter_table("courts") as batch:
        batch.drop_column("requires_date_of_birth")
    op.drop_table("providers")
