"""a court's US state, for its public holidays; a session kept on a holiday says which

Revision ID: 0011_court_state
Revises: 0010_second_factor
Create Date: 2026-12-07 17:30:00

"""

import re

import holidays
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011_court_state"
down_revision = "0010_second_factor"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("courts") as batch:
        batch.add_column(sa.Column("state", sa.String(length=2), nullable=False, server_default=""))
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(
            sa.Column("holiday_kept", sa.String(length=200), nullable=False, server_default="")
        )
    # Existing courts get the state their jurisdiction names, where it names one plainly
    # ("King County, Washington"); the director sets any other on the court's form.
    bind = op.get_bind()
    courts = sa.table(
        "courts", sa.column("id", sa.Integer), sa.column("jurisdiction"), sa.column("state")
    )
    for court_id, jurisdiction in bind.execute(sa.select(courts.c.id, courts.c.jurisdiction)):
        state = state_from_jurisdiction(jurisdiction or "")
        if state:
            bind.execute(courts.update().where(courts.c.id == court_id).values(state=state))


def state_from_jurisdiction(jurisdiction: str) -> str:
    """The state a jurisdiction names in full ("King County, Washington"), or ""; a copy kept
    here so that this migration never changes when the application's version does."""
    names = sorted(holidays.US.subdivisions_aliases.items(), key=lambda kv: -len(kv[0]))
    for name, code in names:
        if re.search(rf"\b{re.escape(name)}\b", jurisdiction, re.IGNORECASE):
            return code
    return ""


def downgrade():
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("holiday_kept")
    with op.batch_alter_table("courts") as batch:
        batch.drop_column("state")
