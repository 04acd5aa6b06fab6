"""Reflections: a man's answers to module prompts, every submitted attempt and its review."""

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
    from .curriculum import ReflectionPrompt
    from .enrollments import Enrollment
    from .users import User


class ReflectionState(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    ACCEPTED = "accepted"

    @property
    def label(self) -> str:
        return str(REFLECTION_STATE_LABELS[self])

    @property
    def editable(self) -> bool:
        return self in (ReflectionState.DRAFT, ReflectionState.RETURNED)


# Read when shown, so each reader gets his own language.
REFLECTION_STATE_LABELS = {
    ReflectionState.DRAFT: _l("Not submitted"),
    ReflectionState.SUBMITTED: _l("Waiting for review"),
    ReflectionState.RETURNED: _l("Returned for revision"),
    ReflectionState.ACCEPTED: _l("Accepted"),
}


class Reflection(db.Model):
    __tablename__ = "reflections"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollments.id"))
    prompt_id: Mapped[int] = mapped_column(sa.ForeignKey("reflection_prompts.id"))
    state: Mapped[ReflectionState] = mapped_column(
        str_enum(ReflectionState, "reflection_state"), default=ReflectionState.DRAFT
    )
    draft_text: Mapped[str] = mapped_column(sa.Text, default="")
    draft_saved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Bumped on every draft save; a save based on an older revision is refused (two tabs).
    draft_revision: Mapped[int] = mapped_column(default=0)

    enrollment: Mapped[Enrollment] = relationship(back_populates="reflections")
    prompt: Mapped[ReflectionPrompt] = relationship()
    attempts: Mapped[list[ReflectionAttempt]] = relationship(
        back_populates="reflection", order_by="ReflectionAttempt.number"
    )

    __table_args__ = (sa.UniqueConstraint("enrollment_id", "prompt_id"),)

    @property
    def latest_attempt(self) -> ReflectionAttempt | None:
        return self.attempts[-1] if self.attempts else None


class ReflectionAttempt(db.Model):
    """A submitted answer, frozen: never edited after it is stored."""

    __tablename__ = "reflection_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    reflection_id: Mapped[int] = mapped_column(sa.ForeignKey("reflections.id"))
    number: Mapped[int]
    text: Mapped[str] = mapped_column(sa.Text)
    word_count: Mapped[int]
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    reflection: Mapped[Reflection] = relationship(back_populates="attempts")
    review: Mapped[Review | None] = relationship(back_populates="attempt")

    __table_args__ = (sa.UniqueConstraint("reflection_id", "number"),)


class ReviewOutcome(enum.StrEnum):
    ACCEPTED = "accepted"
    RETURNED = "returned"

    @property
    def label(self) -> str:
        return str(REFLECTION_STATE_LABELS[ReflectionState(self.value)])


class Review(db.Model):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    # One review per attempt: a second reviewer is told someone was first.
    attempt_id: Mapped[int] = mapped_column(sa.ForeignKey("reflection_attempts.id"), unique=True)
    reviewer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    outcome: Mapped[ReviewOutcome] = mapped_column(str_enum(ReviewOutcome, "review_outcome"))
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    rubric_scores: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    attempt: Mapped[ReflectionAttempt] = relationship(back_populates="review")
    reviewer: Mapped[User] = relationship()
