"""Who may do what: the role guards for each audience and the ownership rules for records."""

from __future__ import annotations

from flask import abort
from flask_login import current_user

from .models import Cohort, Enrollment, Meeting, Reflection, Role, User


def guard_blueprint(bp, *roles: Role) -> None:
    """Every view of the blueprint needs a signed-in user with one of these roles."""

    @bp.before_request
    def _require_role():
        if not current_user.is_authenticated:
            from .extensions import login_manager

            return login_manager.unauthorized()
        if current_user.role not in roles:
            abort(403)


def can_facilitate(user: User, cohort: Cohort) -> bool:
    return user.role is Role.ADMIN or (
        user.role is Role.FACILITATOR and cohort.is_facilitated_by(user)
    )


def can_record_makeup(user: User, enrollment: Enrollment, session: Meeting) -> bool:
    """A make-up credits a session of his own cohort with one he attended elsewhere: it takes
    someone who runs both his cohort and the one whose session he attended (or an admin)."""
    return can_facilitate(user, enrollment.cohort) and can_facilitate(user, session.cohort)


def can_see_case(user: User, enrollment: Enrollment) -> bool:
    """Status and attendance of a case (never reflection text for clerks)."""
    match user.role:
        case Role.ADMIN:
            return True
        case Role.FACILITATOR:
            return enrollment.cohort.is_facilitated_by(user)
        case Role.CLERK:
            return enrollment.court_id == user.court_id
        case Role.PARTICIPANT:
            return enrollment.participant_id == user.id
    return False


def can_review(user: User, cohort: Cohort) -> bool:
    """Reviews a cohort's reflections: the reviewer an admin handed them to, else its
    facilitators; admins always. The reviewer reads the answers and the man's progress
    but gets none of the cohort's other pages."""
    if user.role is Role.ADMIN:
        return True
    if user.role is not Role.FACILITATOR:
        return False
    if cohort.reviewer_id is not None:
        return cohort.reviewer_id == user.id
    return cohort.is_facilitated_by(user)


def can_read_reflection(user: User, reflection: Reflection) -> bool:
    """Reflection text: its author, his cohort's facilitators, its reviewer and admins.
    Never clerks."""
    if user.role is Role.CLERK:
        return False
    if user.role is Role.PARTICIPANT:
        return reflection.enrollment.participant_id == user.id
    cohort = reflection.enrollment.cohort
    return can_facilitate(user, cohort) or can_review(user, cohort)


def get_or_404(model, ident):
    from .extensions import db

    obj = db.session.get(model, ident)
    if obj is None:
        abort(404)
    return obj


def owned_or_404(allowed: bool) -> None:
    """Someone else's record answers 404, so ids cannot be probed for existence."""
    if not allowed:
        abort(404)
