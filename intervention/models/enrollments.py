"""Enrollments: one man's court case in one cohort, and every change of its state."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, str_enum, utcnow
from .certificates import CertificateStatus

if TYPE_CHECKING:
    from .attendance import Attendance
    from .certificates import Certificate
    from .cohorts import Cohort
    from .courts import Court
    from .reflections import Reflection
    from .users import User


class ReferralType(enum.StrEnum):
    PRE_FILING = "pre_filing_diversion"
    DEFERRED_PROSECUTION = "deferred_prosecution"
    PROBATION_CONDITION = "probation_condition"
    SELF_REFERRAL = "self_referral"

    @property
    def label(self) -> str:
        return str(REFERRAL_LABELS[self])


class EnrollmentState(enum.StrEnum):
    REFERRED = "referred"
    ACTIVE = "active"
    COMPLETED = "completed"
    TERMINATED = "terminated"
    RETURNED_TO_COURT = "returned_to_court"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return str(STATE_LABELS[self])

    @property
    def is_open(self) -> bool:
        return self in (EnrollmentState.REFERRED, EnrollmentState.ACTIVE)


# Read when shown, so each reader (or each court's document) gets its own language.
REFERRAL_LABELS = {
    ReferralType.PRE_FILING: _l("Pre-filing diversion"),
    ReferralType.DEFERRED_PROSECUTION: _l("Deferred prosecution"),
    ReferralType.PROBATION_CONDITION: _l("Probation condition"),
    ReferralType.SELF_REFERRAL: _l("Self-referral"),
}
STATE_LABELS = {
    EnrollmentState.REFERRED: _l("Referred"),
    EnrollmentState.ACTIVE: _l("Active"),
    EnrollmentState.COMPLETED: _l("Completed"),
    EnrollmentState.TERMINATED: _l("Terminated"),
    EnrollmentState.RETURNED_TO_COURT: _l("Returned to court"),
    EnrollmentState.WITHDRAWN: _l("Withdrawn"),
}


ALLOWED_TRANSITIONS: dict[EnrollmentState, set[EnrollmentState]] = {
    EnrollmentState.REFERRED: {
        EnrollmentState.ACTIVE,
        EnrollmentState.WITHDRAWN,
        EnrollmentState.RETURNED_TO_COURT,
    },
    EnrollmentState.ACTIVE: {
        EnrollmentState.COMPLETED,
        EnrollmentState.TERMINATED,
        EnrollmentState.RETURNED_TO_COURT,
        EnrollmentState.WITHDRAWN,
    },
}


class Enrollment(db.Model):
    __tablename__ = "enrollments"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    cohort_id: Mapped[int] = mapped_column(sa.ForeignKey("cohorts.id"), index=True)
    court_id: Mapped[int] = mapped_column(sa.ForeignKey("courts.id"))
    case_number: Mapped[str] = mapped_column(sa.String(80), index=True)
    referral_type: Mapped[ReferralType] = mapped_column(str_enum(ReferralType, "referral_type"))
    referral_date: Mapped[date]
    completion_deadline: Mapped[date | None]
    # First day that counts: sessions held before it never count against him.
    starts_on: Mapped[date]
    # Court-ordered changes to the program policy, e.g. {"sessions_required": 12}.
    overrides: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    state: Mapped[EnrollmentState] = mapped_column(
        str_enum(EnrollmentState, "enrollment_state"), default=EnrollmentState.REFERRED
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # An admin's legal hold keeps a closed case from being anonymised; the reason is required.
    legal_hold: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    legal_hold_reason: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    anonymized_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What the program recommends to the court, printed on its notices and termination
    # report: one of RECOMMENDATIONS, optional words, and whether he may enroll again.
    recommendation: Mapped[str] = mapped_column(sa.String(40), default="", server_default="")
    recommendation_text: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    may_reenroll: Mapped[bool | None]
    # Who he is beyond his name, for the court's file: never shown on /verify.
    date_of_birth: Mapped[date | None]
    # The court's person or booking number, when it has one.
    court_person_number: Mapped[str] = mapped_column(sa.String(80), default="", server_default="")
    # The referral's parties, as the court documents address them (names and offices).
    court_department: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    prosecutor: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    defense_attorney: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    probation_officer: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")

    __table_args__ = (
        # One open enrollment per court case: a second referral of the same docket is refused.
        sa.Index(
            "uq_enrollments_open_case",
            "court_id",
            "case_number",
            unique=True,
            sqlite_where=sa.text("state IN ('referred', 'active')"),
            postgresql_where=sa.text("state IN ('referred', 'active')"),
        ),
        # His current case, on every page of his.
        sa.Index("ix_enrollments_participant_created", "participant_id", "created_at"),
        # A court's cases, newest referral first: the clerk's list.
        sa.Index("ix_enrollments_court_referral", "court_id", "referral_date"),
    )

    participant: Mapped[User] = relationship()
    cohort: Mapped[Cohort] = relationship(back_populates="enrollments")
    court: Mapped[Court] = relationship()
    transitions: Mapped[list[EnrollmentTransition]] = relationship(
        back_populates="enrollment", order_by="EnrollmentTransition.at"
    )
    attendance: Mapped[list[Attendance]] = relationship(back_populates="enrollment")
    reflections: Mapped[list[Reflection]] = relationship(back_populates="enrollment")
    certificates: Mapped[list[Certificate]] = relationship(
        back_populates="enrollment", order_by="Certificate.issued_at"
    )

    @property
    def completed_at(self) -> datetime | None:
        """When the case first moved to completed, if it did."""
        done = [t.at for t in self.transitions if t.to_state is EnrollmentState.COMPLETED]
        return min(done) if done else None

    @property
    def valid_certificate(self) -> Certificate | None:
        return next((c for c in self.certificates if c.status is CertificateStatus.VALID), None)

    @property
    def revoked_certificate(self) -> Certificate | None:
        """The newest revoked certificate: once there is one, only the director issues again."""
        revoked = [c for c in self.certificates if c.status is CertificateStatus.REVOKED]
        return revoked[-1] if revoked else None


class EnrollmentTransition(db.Model):
    """Append-only: who moved the case from which state to which, when and why."""

    __tablename__ = "enrollment_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollments.id"), index=True)
    from_state: Mapped[EnrollmentState | None] = mapped_column(
        str_enum(EnrollmentState, "enrollment_state")
    )
    to_state: Mapped[EnrollmentState] = mapped_column(str_enum(EnrollmentState, "enrollment_state"))
    actor_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(sa.Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    enrollment: Mapped[Enrollment] = relationship(back_populates="transitions")
    actor: Mapped[User] = relationship()


# What a notice or termination report may recommend to the court.
RECOMMENDATIONS = {
    "reenroll_next_cohort": _l("Re-enroll him in the next cohort"),
    "review_hearing": _l("Set a review hearing"),
    "none": _l("No recommendation"),
}

# How the program tried to reach him: kept as the value, shown in the reader's language.
CONTACT_METHODS = {
    "phone": _l("Phone call"),
    "text": _l("Text message"),
    "email": _l("Email"),
    "letter": _l("Letter"),
    "in_person": _l("In person"),
}


class ContactAttempt(db.Model):
    """One attempt to reach him about his case ("two calls, no answer"), recorded by staff and
    printed on the notices and termination report generated afterwards. Append-only."""

    __tablename__ = "contact_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollments.id"), index=True)
    on: Mapped[date]
    method: Mapped[str] = mapped_column(sa.String(20))
    outcome: Mapped[str] = mapped_column(sa.String(200))
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    recorded_by: Mapped[User] = relationship()

    @property
    def method_label(self) -> str:
        return str(CONTACT_METHODS.get(self.method, self.method))
