"""certificate reissue: a certificate issued after a revocation names the revoked one and why

Revision ID: 0008_certificate_reissue
Revises: 0007
Create Date: 2026-12-08 10:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008_certificate_reissue"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("follows_revoked_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("follows_revoked_reason", sa.Text(), server_default="", nullable=False)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_certificates_follows_revoked_id_certificates"),
            "certificates",
            ["follows_revoked_id"],
            ["id"],
        )
        # One revocation is followed by at most one certificate, whatever the race.
        batch_op.create_unique_constraint(
            batch_op.f("uq_certificates_follows_revoked_id"), ["follows_revoked_id"]
        )


def downgrade():
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_certificates_follows_revoked_id"), type_="unique")
        batch_op.drop_constraint(
            batch_op.f("fk_certificates_follows_revoked_id_certificates"), type_="foreignkey"
        )
        batch_op.drop_column("follows_revoked_reason")
        batch_op.drop_column("follows_revoked_id")
