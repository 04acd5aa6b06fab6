"""What staff do to a case by hand: activate, terminate, return it to the court or withdraw
it, each with a reason; a termination comes with its report to the court. (Completion comes
only with issuing the certificate: see certificates.py.)"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..models import ALLOWED_TRANSITIONS, CourtDocument, Enrollment, EnrollmentState, Role, User
from . import ServiceError, documents
from .enrollments import lock, transition

# What staff may do to a case by hand. Completion comes only with issuing the certificate.
STAFF_ACTIONS = {
    EnrollmentState.ACTIVE: _l("Activate"),
    EnrollmentState.TERMINATED: _l("Terminate"),
    EnrollmentState.RETURNED_TO_COURT: _l("Return to court"),
    EnrollmentState.WITHDRAWN: _l("Withdraw"),
}


def staff_actions(enrollment: Enrollment) -> dict[EnrollmentState, str]:
    allowed = ALLOWED_TRANSITIONS.get(enrollment.state, set())
    return {state: label for state, label in STAFF_ACTIONS.items() if state in allowed}


def change_status(
    enrollment: Enrollment, to_state: EnrollmentState, actor: User, reason: str
) -> tuple[Enrollment, CourtDocument | None]:
    """A facilitator or the director activates, terminates, returns or withdraws a case.
    A termination always comes with its report to the court, returned with the case."""
    if actor.role not in (Role.FACILITATOR, Role.ADMIN):
        raise ServiceError(_("Only a facilitator or the program director can change a case."))
    if to_state not in STAFF_ACTIONS:
        raise ServiceError(
            _("A case is completed only by issuing its certificate, once every requirement is met.")
        )
    lock(enrollment)
    transition(enrollment, to_state, actor, reason)
    report = None
    if to_state is EnrollmentState.TERMINATED:
        report = documents.termination_report(enrollment, actor)
    return enrollment, report
