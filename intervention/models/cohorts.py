"""Cohorts of men who take a program together, and their weekly sessions."""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, str_enum

if TYPE_CHECKING:
    from .curriculum import CurriculumVersion, Module
    from .enrollments import Enrollment
    from .users import User

cohort_facilitators = sa.Table(
    "cohort_facilitators",
    db.metadata,
    sa.Column("cohort_id", sa.ForeignKey("cohorts.id"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), primary_key=True),
    # A facilitator's cohorts (the primary key serves a cohort's facilitators).
    sa.Index("ix_cohort_facilitators_user_id", "user_id"),
)


class Cohort(db.Model):
    __tablename__ = "cohorts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    # Pinned for the cohort's life: a man never sees his course change mid-way.
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("curriculum_versions.id"))
    start_date: Mapped[date]
    weekday: Mapped[int]  # 0 = Monday, in the cohort's timezone
    start_time: Mapped[time]
    timezone: Mapped[str] = mapped_column(sa.String(64), default="America/Los_Angeles")
    location: Mapped[str] = mapped_column(sa.String(300), default="")
    video_link: Mapped[str] = mapped_column(sa.String(500), default="")
    # Set by an admin to hand the cohort's reviews to one facilitator; None: its facilitators.
    reviewer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)

    version: Mapped[CurriculumVersion] = relationship()
    facilitators: Mapped[list[User]] = relationship(secondary=cohort_facilitators)
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])
    sessions: Mapped[list[Meeting]] = relationship(
        back_populates="cohort", order_by="Meeting.scheduled_at"
    )
    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="cohort")

    def is_facilitated_by(self, user: User) -> bool:
        return any(f.id == user.id for f in self.facilitators)


class SessionStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"


class Meeting(db.Model):
    """One session of a cohort, for one module: what the program and its people call a
    session. Named Meeting in the code so it is never taken for the database session or the
    browser's (its table is still `sessions`)."""

    __tablename__ = "sessions"
    audit_type = "session"  # what the audit log calls it, as it always has

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(sa.ForeignKey("cohorts.id"), index=True)
    module_id: Mapped[int] = mapped_column(sa.ForeignKey("modules.id"))
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[SessionStatus] = mapped_column(
        str_enum(SessionStatus, "session_status"), default=SessionStatus.SCHEDULED
    )
    cancel_reason: Mapped[str] = mapped_column(sa.Text, default="")
    # Set when the session was moved: the time it had before, and why it moved.
    rescheduled_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reschedule_reason: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    # The public holiday the director was warned of and chose to meet on anyway; "" otherwise.
    holiday_kept: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")

    cohort: Mapped[Cohort] = relationship(back_populates="sessions")
    module: Mapped[Module] = relationship()

    @property
    def number(self) -> int:
        return self.module.session_number

    @property
    def local_date(self) -> date:
        """The day the session meets, in its cohort's timezone."""
        return self.scheduled_at.astimezone(ZoneInfo(self.cohort.timezone)).date()
