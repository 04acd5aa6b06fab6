"""Attendance at each session, with an append-only history of every change."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, str_enum, utcnow

if TYPE_CHECKING:
    from .cohorts import Meeting
    from .enrollments import Enrollment
    from .users import User


class AttendanceStatus(enum.StrEnum):
    PRESENT = "present"
    LATE = "late"
    LEFT_EARLY = "left_early"
    EXCUSED = "excused"
    ABSENT = "absent"
    MADE_UP = "made_up"

    @property
    def label(self) -> str:
        return str(ATTENDANCE_LABELS[self])


# Read when shown, so each reader (or each court's document) gets its own language.
ATTENDANCE_LABELS = {
    AttendanceStatus.PRESENT: _l("Present"),
    AttendanceStatus.LATE: _l("Late"),
    AttendanceStatus.LEFT_EARLY: _l("Left early"),
    AttendanceStatus.EXCUSED: _l("Excused"),
    AttendanceStatus.ABSENT: _l("Absent"),
    AttendanceStatus.MADE_UP: _l("Made up"),
}


class Attendance(db.Model):
    """The current mark for one man at one session."""

    __tablename__ = "attendance"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollments.id"))
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("sessions.id"), index=True)
    status: Mapped[AttendanceStatus] = mapped_column(str_enum(AttendanceStatus, "attendance"))
    minutes_credited: Mapped[int] = mapped_column(default=0)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    # For made_up: the session of another cohort he attended instead.
    made_up_at_session_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sessions.id"))
    # A make-up pair points both ways: the missed session's `made_up` mark and the mark at
    # the other cohort's session he attended instead.
    linked_attendance_id: Mapped[int | None] = mapped_column(sa.ForeignKey("attendance.id"))
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    enrollment: Mapped[Enrollment] = relationship(back_populates="attendance")
    session: Mapped[Meeting] = relationship(foreign_keys=[session_id])
    made_up_at_session: Mapped[Meeting | None] = relationship(foreign_keys=[made_up_at_session_id])
    linked_attendance: Mapped[Attendance | None] = relationship(remote_side=[id], post_update=True)
    recorded_by: Mapped[User] = relationship()
    history: Mapped[list[AttendanceChange]] = relationship(
        back_populates="attendance", order_by="AttendanceChange.at"
    )

    __table_args__ = (sa.UniqueConstraint("enrollment_id", "session_id"),)

    @property
    def status_before_makeup(self) -> AttendanceStatus | None:
        """For a made-up session: how it was marked before the make-up (None if never)."""
        for change in reversed(self.history):
            if change.to_status is AttendanceStatus.MADE_UP:
                return change.from_status
        return None


class AttendanceChange(db.Model):
    """Append-only: each marking, first or corrected, with who, when, from, to and why."""

    __tablename__ = "attendance_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    attendance_id: Mapped[int] = mapped_column(sa.ForeignKey("attendance.id"), index=True)
    from_status: Mapped[AttendanceStatus | None] = mapped_column(
        str_enum(AttendanceStatus, "attendance")
    )
    to_status: Mapped[AttendanceStatus] = mapped_column(str_enum(AttendanceStatus, "attendance"))
    from_minutes: Mapped[int | None]
    to_minutes: Mapped[int]
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    actor_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    attendance: Mapped[Attendance] = relationship(back_populates="history")
    actor: Mapped[User] = relationship()
