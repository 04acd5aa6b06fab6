"""languages: each person's interface language, each court's document language

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 19:25:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=8), nullable=True))
    with op.batch_alter_table("courts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("language", sa.String(length=8), server_default="en", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("courts", schema=None) as batch_op:
        batch_op.drop_column("language")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("locale")
