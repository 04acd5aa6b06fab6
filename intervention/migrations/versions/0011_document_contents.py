"""court documents say what a court needs: the true completion date, session titles only when
the court asks for them

Revision ID: 0011_document_contents
Revises: 0010_second_factor
Create Date: 2026-12-07 17:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011_document_contents"
down_revision = "0010_second_factor"
branch_labels = None
depends_on = None


def upgrade():
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
    with op.batch_alter_table("courts") as batch:
        batch.drop_column("session_titles_on_documents")
    with op.batch_alter_table("certificates") as batch:
        batch.drop_column("completed_on")
