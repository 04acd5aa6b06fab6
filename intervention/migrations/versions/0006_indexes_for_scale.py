"""indexes for scale: every lookup the busy pages make

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 18:35:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# (name, table, columns): foreign keys the pages join or filter on, and the orders they list in.
INDEXES = [
    ("ix_enrollments_cohort_id", "enrollments", ["cohort_id"]),
    ("ix_enrollments_participant_created", "enrollments", ["participant_id", "created_at"]),
    ("ix_enrollments_court_referral", "enrollments", ["court_id", "referral_date"]),
    ("ix_enrollment_transitions_enrollment_id", "enrollment_transitions", ["enrollment_id"]),
    ("ix_cohort_facilitators_user_id", "cohort_facilitators", ["user_id"]),
    ("ix_cohorts_reviewer_id", "cohorts", ["reviewer_id"]),
    ("ix_sessions_cohort_id", "sessions", ["cohort_id"]),
    ("ix_attendance_session_id", "attendance", ["session_id"]),
    ("ix_attendance_changes_attendance_id", "attendance_changes", ["attendance_id"]),
    ("ix_certificates_enrollment_id", "certificates", ["enrollment_id"]),
    ("ix_court_documents_enrollment_id", "court_documents", ["enrollment_id"]),
    ("ix_audit_events_actor_id", "audit_events", ["actor_id"]),
    ("ix_audit_events_object", "audit_events", ["object_type", "object_id"]),
    ("ix_users_court_id", "users", ["court_id"]),
]


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)
    # Sign-in compares lower(email).
    op.create_index("ix_users_email_lower", "users", [sa.text("lower(email)")], unique=False)


def downgrade():
    op.drop_index("ix_users_email_lower", table_name="users")
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
