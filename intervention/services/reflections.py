"""Writing, submitting and reviewing reflections; every submitted attempt is frozen."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import (
    Cohort,
    Enrollment,
    Module,
    Reflection,
    ReflectionAttempt,
    ReflectionPrompt,
    ReflectionState,
    Review,
    ReviewOutcome,
    Role,
    SessionStatus,
    User,
    cohort_facilitators,
    utcnow,
)
from . import ServiceError, audit
from .curriculum import session_for

WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


def count_words(text: str) -> int:
    return len(WORD.findall(text))


class StaleDraft(ServiceError):
    """The draft changed in another tab or device since this page was loaded."""


class AlreadyReviewed(ServiceError):
    def __init__(self, review: Review):
        super().__init__(
            _(
                "%(name)s reviewed this answer first (%(outcome)s). Their review is shown "
                "below; nothing was changed.",
                name=review.reviewer.full_name,
                outcome=review.outcome.label.lower(),
            )
        )
        self.review = review


def reflection_for(enrollment: Enrollment, prompt: ReflectionPrompt) -> Reflection:
    """The man's reflection on this prompt, created empty the first time he opens it."""
    if prompt.module.version_id != enrollment.cohort.version_id:
        raise ServiceError(_("This prompt is not part of your course."))
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
            _("This answer is waiting for review. You can change it if it is returned.")
        )
    if reflection.state is ReflectionState.ACCEPTED:
        raise ServiceError(_("This answer was accepted. It can no longer be changed."))
    if not reflection.enrollment.state.is_open:
        raise ServiceError(_("Your case is closed, so answers can no longer be changed."))


STALE_SAVE = _l(
    "This answer was changed in another window or device since you opened this page. "
    "Your text here was not saved over it. Copy your text, reload the page, and "
    "choose which version to keep."
)
STALE_SUBMIT = _l(
    "This answer was changed in another window or device since you opened this page. "
    "Reload the page to see the newest text before you submit."
)


def save_draft(reflection: Reflection, text: str, base_revision: int, actor: User) -> Reflection:
    """Keep the text he is writing. A save from an older page is refused, never merged."""
    _check_writable(reflection)
    if base_revision != reflection.draft_revision:
        if text == reflection.draft_text:
            return reflection  # this very text is already saved (a save sent as a page closed)
        raise StaleDraft(str(STALE_SAVE))
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
            ngettext(
                "Your answer has %(num)d word. Write at least %(minimum)d words, then submit. "
                "Your text has been kept.",
                "Your answer has %(num)d words. Write at least %(minimum)d words, then submit. "
                "Your text has been kept.",
                words,
                minimum=minimum,
            )
        )
    # Sending exactly the saved text overwrites nothing, whatever revision the page had.
    if base_revision != reflection.draft_revision and text != reflection.draft_text:
        raise StaleDraft(str(STALE_SUBMIT))
    number = len(reflection.attempts) + 1
    try:
        # Inside a savepoint, so that losing a race to a second copy of this request (two
        # clicks, two tabs) leaves the caller's transaction usable.
        with db.session.begin_nested():
            attempt = ReflectionAttempt(
                reflection_id=reflection.id, number=number, text=text, word_count=words
            )
            db.session.add(attempt)
            db.session.flush()
    except IntegrityError:
        return _attempt_that_won(reflection, text)
    db.session.expire(reflection, ["attempts"])
    reflection.draft_text = text
    reflection.draft_saved_at = utcnow()
    reflection.draft_revision += 1
    reflection.state = ReflectionState.SUBMITTED
    db.session.flush()
    audit.record("reflection.submit", actor, reflection, attempt=attempt.number, words=words)
    return attempt


def _attempt_that_won(reflection: Reflection, text: str) -> ReflectionAttempt:
    """Another request stored this attempt number first: the same text is the same attempt
    (a double click); a different text was written elsewhere and is not overwritten."""
    db.session.refresh(reflection)
    db.session.expire(reflection, ["attempts"])
    winner = reflection.latest_attempt
    if winner is not None and winner.text == text:
        return winner
    raise StaleDraft(str(STALE_SUBMIT))


# --- due dates ----------------------------------------------------------------------------------

# The last session has no next session to be due before: its answers are due a week after it.
LAST_SESSION_DUE_DAYS = 7


def due_at(item: Reflection | ReflectionPrompt, enrollment: Enrollment) -> datetime | None:
    """When his answer to the prompt is due: before his cohort's next session that is not
    cancelled, or a set number of days after its own session when the program says so.
    None while the module has no session."""
    prompt = item.prompt if isinstance(item, Reflection) else item
    cohort = enrollment.cohort
    own = session_for(cohort, prompt.module)
    if own is None:
        return None
    days = cohort.version.reflection_due_days
    if days is not None:
        return own.scheduled_at + timedelta(days=days)
    later = [
        s.scheduled_at
        for s in cohort.sessions
        if s.scheduled_at > own.scheduled_at and s.status is not SessionStatus.CANCELLED
    ]
    return min(later) if later else own.scheduled_at + timedelta(days=LAST_SESSION_DUE_DAYS)


def is_late(attempt: ReflectionAttempt) -> bool:
    """Sent late: the answer's first attempt came after it was due. Marked, never refused;
    an optional prompt is never late, and a revision after a return is not late either."""
    reflection = attempt.reflection
    if not reflection.prompt.required:
        return False
    due = due_at(reflection, reflection.enrollment)
    first = reflection.attempts[0] if reflection.attempts else attempt
    return due is not None and first.submitted_at > due


@dataclass(frozen=True)
class Deadline:
    """What a man sees next to a prompt: when it is due and whether it is late."""

    due_at: datetime | None
    late: bool  # sent after the due time, or still not sent and the due time has passed
    required: bool
    sent: bool  # at least one attempt was submitted


def deadline(
    prompt: ReflectionPrompt,
    reflection: Reflection | None,
    enrollment: Enrollment,
    now: datetime | None = None,
) -> Deadline:
    due = due_at(prompt, enrollment)
    first = reflection.attempts[0] if reflection and reflection.attempts else None
    if not prompt.required or due is None:
        late = False
    elif first is not None:
        late = first.submitted_at > due
    else:
        late = (now or utcnow()) > due
    return Deadline(due_at=due, late=late, required=prompt.required, sent=first is not None)


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
        raise ServiceError(_("Only the latest submitted answer can be reviewed."))
    comment = comment.strip()
    if outcome is ReviewOutcome.RETURNED and not comment:
        raise ServiceError(_("Write a comment so he knows what to change."))
    scores = check_rubric(rubric_of(attempt), rubric_scores or {})
    try:
        # Made inside the savepoint: begin_nested() autoflushes, and a failed insert outside
        # the savepoint would roll back the caller's whole transaction.
        with db.session.begin_nested():
            result = Review(
                attempt=attempt,
                reviewer=reviewer,
                outcome=outcome,
                comment=comment,
                rubric_scores=scores,
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
        "reflection.review",
        reviewer,
        reflection,
        attempt=attempt.number,
        outcome=outcome.value,
        rubric=scores,
    )
    return result


# --- rubric scores ------------------------------------------------------------------------------


def rubric_of(attempt: ReflectionAttempt) -> list[dict]:
    """The criteria of the version the answer was written for, well-formed ones only:
    {"id", "title", "levels"}; empty when the program defines no rubric."""
    criteria = []
    for item in attempt.reflection.prompt.module.version.rubric or []:
        if not isinstance(item, dict):
            continue
        key, levels = item.get("id"), item.get("levels")
        if not isinstance(key, str) or not isinstance(levels, list) or not levels:
            continue
        criteria.append(
            {"id": key, "title": str(item.get("title") or key), "levels": [str(x) for x in levels]}
        )
    return criteria


def check_rubric(criteria: list[dict], scores: dict) -> dict[str, int]:
    """{criterion id: level index}, each score optional; anything the rubric does not
    define is refused rather than stored."""
    by_id = {c["id"]: c for c in criteria}
    clean: dict[str, int] = {}
    for key, level in scores.items():
        if level is None or level == "":
            continue  # not scored
        criterion = by_id.get(key)
        if criterion is None:
            raise ServiceError(_("“%(key)s” is not a criterion of this program's rubric.", key=key))
        if (
            isinstance(level, bool)
            or not isinstance(level, int)
            or not 0 <= level < len(criterion["levels"])
        ):
            raise ServiceError(
                _("Choose one of the levels of “%(title)s”.", title=criterion["title"])
            )
        clean[key] = level
    return clean


def rubric_lines(review: Review) -> list[tuple[str, str]]:
    """The review's rubric scores in words, in the rubric's order: [(criterion, level)]."""
    scores = review.rubric_scores or {}
    lines = []
    for criterion in rubric_of(review.attempt):
        level = scores.get(criterion["id"])
        if isinstance(level, int) and 0 <= level < len(criterion["levels"]):
            lines.append((criterion["title"], criterion["levels"][level]))
    return lines


# --- the review queue ---------------------------------------------------------------------------

# The queue's states, as the facilitator filters them.
QUEUE_STATES = {
    "waiting": ReflectionState.SUBMITTED,
    "returned": ReflectionState.RETURNED,
    "accepted": ReflectionState.ACCEPTED,
}


def reviewed_cohorts(user: User) -> Select:
    """The cohorts whose reviews are this user's; the same rule as access.can_review."""
    query = select(Cohort).order_by(Cohort.start_date.desc(), Cohort.id.desc())
    if user.role is Role.ADMIN:
        return query
    if user.role is not Role.FACILITATOR:
        return query.where(sa.false())
    facilitated = select(cohort_facilitators.c.cohort_id).where(
        cohort_facilitators.c.user_id == user.id
    )
    return query.where(
        sa.or_(
            Cohort.reviewer_id == user.id,
            sa.and_(Cohort.reviewer_id.is_(None), Cohort.id.in_(facilitated)),
        )
    )


def _in_scope(query: Select, cohort_ids: list[int], session_number: int | None) -> Select:
    query = query.join(Enrollment, Reflection.enrollment_id == Enrollment.id).where(
        Enrollment.cohort_id.in_(cohort_ids)
    )
    if session_number is not None:
        query = (
            query.join(ReflectionPrompt, Reflection.prompt_id == ReflectionPrompt.id)
            .join(Module, ReflectionPrompt.module_id == Module.id)
            .where(Module.session_number == session_number)
        )
    return query


def queue(
    cohort_ids: list[int],
    state: ReflectionState = ReflectionState.SUBMITTED,
    session_number: int | None = None,
) -> Select:
    """Latest attempts of the reflections in this state: waiting ones oldest first (the
    order they are reviewed in), reviewed ones with the newest review first."""
    earlier = aliased(ReflectionAttempt)
    latest_number = (
        select(sa.func.max(earlier.number))
        .where(earlier.reflection_id == Reflection.id)
        .correlate(Reflection)
        .scalar_subquery()
    )
    query = select(ReflectionAttempt).join(
        Reflection, ReflectionAttempt.reflection_id == Reflection.id
    )
    query = _in_scope(query, cohort_ids, session_number).where(
        Reflection.state == state, ReflectionAttempt.number == latest_number
    )
    if state is ReflectionState.SUBMITTED:
        return query.order_by(ReflectionAttempt.submitted_at, ReflectionAttempt.id)
    return query.outerjoin(Review, Review.attempt_id == ReflectionAttempt.id).order_by(
        Review.created_at.desc(), ReflectionAttempt.id.desc()
    )


def queue_counts(
    cohort_ids: list[int], session_number: int | None = None
) -> dict[ReflectionState, int]:
    """How many reflections are waiting, returned and accepted, under the same filters."""
    query = _in_scope(
        select(Reflection.state, sa.func.count(Reflection.id)), cohort_ids, session_number
    )
    rows = db.session.execute(
        query.where(Reflection.state != ReflectionState.DRAFT).group_by(Reflection.state)
    ).all()
    counts = dict.fromkeys(QUEUE_STATES.values(), 0)
    counts.update({state: n for state, n in rows})
    return counts


def waiting_by_cohort(cohort_ids: list[int]) -> dict[int, int]:
    """Reflections waiting for review, per cohort id."""
    query = (
        select(Enrollment.cohort_id, sa.func.count(Reflection.id))
        .join(Reflection, Reflection.enrollment_id == Enrollment.id)
        .where(
            Enrollment.cohort_id.in_(cohort_ids),
            Reflection.state == ReflectionState.SUBMITTED,
        )
        .group_by(Enrollment.cohort_id)
    )
    return {cohort_id: n for cohort_id, n in db.session.execute(query).all()}


def next_waiting(
    cohort_ids: list[int], session_number: int | None, after: ReflectionAttempt
) -> ReflectionAttempt | None:
    """The waiting answer that comes after this one in the queue, going round to the start
    for any that were skipped; None when nothing is left."""
    waiting = queue(cohort_ids, ReflectionState.SUBMITTED, session_number).where(
        ReflectionAttempt.id != after.id
    )
    later = waiting.where(
        sa.or_(
            ReflectionAttempt.submitted_at > after.submitted_at,
            sa.and_(
                ReflectionAttempt.submitted_at == after.submitted_at,
                ReflectionAttempt.id > after.id,
            ),
        )
    )
    return db.session.scalar(later.limit(1)) or db.session.scalar(waiting.limit(1))


# --- who reviews a cohort -----------------------------------------------------------------------


def assign_reviewer(cohort: Cohort, reviewer: User | None, actor: User, reason: str) -> Cohort:
    """Hand a cohort's reviews to one facilitator, or back to its facilitators (None)."""
    reason = reason.strip()
    if not reason:
        raise ServiceError(_("Give the reason for moving this cohort's reviews."))
    if reviewer is not None and (reviewer.role is not Role.FACILITATOR or not reviewer.active):
        raise ServiceError(_("Reviews can only go to an active facilitator account."))
    before = cohort.reviewer
    if (before.id if before else None) == (reviewer.id if reviewer else None):
        who = before.full_name if before else _("the cohort's facilitators")
        raise ServiceError(_("Reviews of this cohort already go to %(who)s.", who=who))
    cohort.reviewer = reviewer
    db.session.flush()
    audit.record(
        "cohort.assign_reviewer",
        actor,
        cohort,
        **{
            "from": before.id if before else None,
            "to": reviewer.id if reviewer else None,
            "reason": reason,
        },
    )
    return cohort
