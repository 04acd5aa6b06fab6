"""Writing, submitting and reviewing reflections; every submitted attempt is frozen."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import (
    Enrollment,
    Reflection,
    ReflectionAttempt,
    ReflectionPrompt,
    ReflectionState,
    Review,
    ReviewOutcome,
    User,
    utcnow,
)
from . import ServiceError, audit

WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


def count_words(text: str) -> int:
    return len(WORD.findall(text))


class StaleDraft(ServiceError):
    """The draft changed in another tab or device since this page was loaded."""


class AlreadyReviewed(ServiceError):
    def __init__(self, review: Review):
        super().__init__(
            f"{review.reviewer.full_name} reviewed this answer first "
            f"({review.outcome.label.lower()}). Their review is shown below; nothing was changed."
        )
        self.review = review


def reflection_for(enrollment: Enrollment, prompt: ReflectionPrompt) -> Reflection:
    """The man's reflection on this prompt, created empty the first time he opens it."""
    if prompt.module.version_id != enrollment.cohort.version_id:
        raise ServiceError("This prompt is not part of your course.")
    reflection = db.session.scalar(
        select(Reflection).where(
            Reflection.enrollment_id == enrollment.id, Reflection.prompt_id == prompt.id
        )
    )
    if reflection is None:
        reflection = Reflection(enrollment=enrollment, prompt=prompt)
        db.session.add(reflection)
        db.session.flush()
    return reflection


def _check_writable(reflection: Reflection) -> None:
    if reflection.state is ReflectionState.SUBMITTED:
        raise ServiceError(
            "This answer is waiting for review. You can change it if it is returned."
        )
    if reflection.state is ReflectionState.ACCEPTED:
        raise ServiceError("This answer was accepted. It can no longer be changed.")
    if not reflection.enrollment.state.is_open:
        raise ServiceError("Your case is closed, so answers can no longer be changed.")


def save_draft(reflection: Reflection, text: str, base_revision: int, actor: User) -> Reflection:
    """Keep the text he is writing. A save from an older page is refused, never merged."""
    _check_writable(reflection)
    if base_revision != reflection.draft_revision:
        raise StaleDraft(
            "This answer was changed in another window or device since you opened this page. "
            "Your text here was not saved over it. Copy your text, reload the page, and "
            "choose which version to keep."
        )
    reflection.draft_text = text
    reflection.draft_saved_at = utcnow()
    reflection.draft_revision += 1
    db.session.flush()
    return reflection


def submit(reflection: Reflection, text: str, base_revision: int, actor: User) -> ReflectionAttempt:
    """Freeze the answer as a new attempt and send it for review."""
    latest = reflection.latest_attempt
    if reflection.state is ReflectionState.SUBMITTED and latest is not None and latest.text == text:
        return latest  # a double click or a resent form: one attempt, not two
    _check_writable(reflection)
    words = count_words(text)
    minimum = reflection.prompt.min_words
    if words < minimum:
        raise ServiceError(
            f"Your answer has {words} words. Write at least {minimum} words, then submit. "
            "Your text has been kept."
        )
    if base_revision != reflection.draft_revision:
        raise StaleDraft(
            "This answer was changed in another window or device since you opened this page. "
            "Reload the page to see the newest text before you submit."
        )
    attempt = ReflectionAttempt(
        reflection=reflection,
        number=len(reflection.attempts) + 1,
        text=text,
        word_count=words,
    )
    db.session.add(attempt)
    reflection.draft_text = text
    reflection.draft_saved_at = utcnow()
    reflection.draft_revision += 1
    reflection.state = ReflectionState.SUBMITTED
    db.session.flush()
    audit.record("reflection.submit", actor, reflection, attempt=attempt.number, words=words)
    return attempt


def review(
    attempt: ReflectionAttempt,
    outcome: ReviewOutcome,
    comment: str,
    reviewer: User,
    rubric_scores: dict | None = None,
) -> Review:
    """Accept or return the latest attempt. The first reviewer wins; nothing is overwritten."""
    reflection = attempt.reflection
    if attempt.review is not None:
        raise AlreadyReviewed(attempt.review)
    if (
        reflection.latest_attempt is not attempt
        or reflection.state is not ReflectionState.SUBMITTED
    ):
        raise ServiceError("Only the latest submitted answer can be reviewed.")
    comment = comment.strip()
    if outcome is ReviewOutcome.RETURNED and not comment:
        raise ServiceError("Write a comment so he knows what to change.")
    try:
        # Made inside the savepoint: begin_nested() autoflushes, and a failed insert outside
        # the savepoint would roll back the caller's whole transaction.
        with db.session.begin_nested():
            result = Review(
                attempt=attempt,
                reviewer=reviewer,
                outcome=outcome,
                comment=comment,
                rubric_scores=rubric_scores or {},
            )
            db.session.add(result)
            db.session.flush()
    except IntegrityError:
        # Someone else's review of this attempt landed between our read and our write.
        db.session.expire(attempt)
        raise AlreadyReviewed(attempt.review) from None
    reflection.state = (
        ReflectionState.ACCEPTED if outcome is ReviewOutcome.ACCEPTED else ReflectionState.RETURNED
    )
    db.session.flush()
    audit.record(
        "reflection.review", reviewer, reflection, attempt=attempt.number, outcome=outcome.value
    )
    return result
