"""Enrollment state changes, each recorded with actor, time and reason."""

from __future__ import annotations

from ..extensions import db
from ..models import ALLOWED_TRANSITIONS, Enrollment, EnrollmentState, EnrollmentTransition, User
from . import ServiceError, audit


def transition(
    enrollment: Enrollment, to_state: EnrollmentState, actor: User, reason: str
) -> Enrollment:
    if not reason.strip():
        raise ServiceError("Give a reason for this change of status.")
    if to_state not in ALLOWED_TRANSITIONS.get(enrollment.state, set()):
        raise ServiceError(
            f"A case that is {enrollment.state.label.lower()} cannot become "
            f"{to_state.label.lower()}."
        )
    db.session.add(
        EnrollmentTransition(
            enrollment=enrollment,
            from_state=enrollment.state,
            to_state=to_state,
            actor=actor,
            reason=reason.strip(),
        )
    )
    previous = enrollment.state
    enrollment.state = to_state
    db.session.flush()
    audit.record(
        "enrollment.transition",
        actor,
        enrollment,
        **{"from": previous.value, "to": to_state.value, "reason": reason.strip()},
    )
    return enrollment
