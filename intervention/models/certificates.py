"""Completion certificates and other court documents: stored PDF bytes that never change."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, str_enum, utcnow

if TYPE_CHECKING:
    from .curriculum import CurriculumVersion
    from .enrollments import Enrollment
    from .users import User


class CertificateStatus(enum.StrEnum):
    VALID = "valid"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"

    @property
    def label(self) -> str:
        return str(CERTIFICATE_STATUS_LABELS[self])


CERTIFICATE_STATUS_LABELS = {
    CertificateStatus.VALID: _l("Valid"),
    CertificateStatus.REVOKED: _l("Revoked"),
    CertificateStatus.SUPERSEDED: _l("Superseded"),
}


class Certificate(db.Model):
    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollments.id"), index=True)
    number: Mapped[str] = mapped_column(sa.String(40), unique=True)  # e.g. AAC-2026-0007
    # Random, 80 bits, Crockford base32 so it can be read aloud over the phone.
    verification_code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("curriculum_versions.id"))
    issued_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The day the last requirement was met, from the completion engine when first issued and
    # carried over by a re-issue: what the court is told, never the day of issue. Null only
    # for certificates issued before it was recorded (see completion_day).
    completed_on: Mapped[date | None]
    # The certificate itself: downloads serve these bytes, never a fresh render.
    pdf: Mapped[bytes] = deferred(mapped_column(sa.LargeBinary))
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    status: Mapped[CertificateStatus] = mapped_column(
        str_enum(CertificateStatus, "certificate_status"), default=CertificateStatus.VALID
    )
    status_reason: Mapped[str] = mapped_column(sa.Text, default="")
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    superseded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("certificates.id"))
    # Revocation is final: a certificate issued for the case afterwards is the director's
    # deliberate decision, naming the revoked certificate it follows and why. Unique, so one
    # revocation is followed once however many times the button is pressed.
    follows_revoked_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("certificates.id"), unique=True
    )
    follows_revoked_reason: Mapped[str] = mapped_column(sa.Text, default="", server_default="")

    enrollment: Mapped[Enrollment] = relationship(back_populates="certificates")
    version: Mapped[CurriculumVersion] = relationship()
    issued_by: Mapped[User] = relationship()
    superseded_by: Mapped[Certificate | None] = relationship(
        remote_side=[id], foreign_keys=[superseded_by_id]
    )
    follows_revoked: Mapped[Certificate | None] = relationship(
        remote_side=[id], foreign_keys=[follows_revoked_id]
    )

    @property
    def filename(self) -> str:
        # Staff keep the bytes of a revoked or superseded one for the record; its name says so.
        if self.status is CertificateStatus.VALID:
            return f"certificate-{self.number}.pdf"
        return f"certificate-{self.number}-{self.status.value}.pdf"

    @property
    def awaits_decision(self) -> bool:
        """The case's newest revocation, with nothing issued since: the director may decide
        to issue a new certificate after it."""
        enrollment = self.enrollment
        return (
            self.status is CertificateStatus.REVOKED
            and enrollment.revoked_certificate is self
            and enrollment.valid_certificate is None
            and self.followed_by is None
        )

    def completion_day(self, tz: str) -> date:
        """The completion date to state; for certificates issued before the engine recorded
        it, the day the case moved to completed (as before), else the day of issue."""
        if self.completed_on is not None:
            return self.completed_on
        moment = self.enrollment.completed_at or self.issued_at
        return moment.astimezone(ZoneInfo(tz)).date()

    @property
    def followed_by(self) -> Certificate | None:
        """The certificate the director issued after revoking this one, if any."""
        return next(
            (c for c in self.enrollment.certificates if c.follows_revoked_id == self.id), None
        )


class DocumentKind(enum.StrEnum):
    PROGRESS_REPORT = "progress_report"
    NONCOMPLIANCE_NOTICE = "noncompliance_notice"
    TERMINATION_REPORT = "termination_report"

    @property
    def label(self) -> str:
        return str(DOCUMENT_KIND_LABELS[self])


DOCUMENT_KIND_LABELS = {
    DocumentKind.PROGRESS_REPORT: _l("Progress report"),
    DocumentKind.NONCOMPLIANCE_NOTICE: _l("Non-compliance notice"),
    DocumentKind.TERMINATION_REPORT: _l("Termination report"),
}


class CourtDocument(db.Model):
    """A report or notice to the court; notices are drafted with a due date before the PDF."""

    __tablename__ = "court_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollments.id"), index=True)
    kind: Mapped[DocumentKind] = mapped_column(str_enum(DocumentKind, "document_kind"))
    reason: Mapped[str] = mapped_column(sa.Text, default="")  # e.g. the violated rule, in words
    # The policy rule a notice is about (max_absences, max_gap_days...), so one violation
    # drafts one notice, not one per page view.
    rule: Mapped[str] = mapped_column(sa.String(40), default="", server_default="")
    pdf: Mapped[bytes | None] = deferred(mapped_column(sa.LargeBinary))
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    generated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    generated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_on: Mapped[date | None]
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_method: Mapped[str] = mapped_column(sa.String(80), default="")

    enrollment: Mapped[Enrollment] = relationship()
    generated_by: Mapped[User | None] = relationship()
