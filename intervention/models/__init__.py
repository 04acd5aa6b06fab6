"""The domain models, one module per aggregate, all importable from here."""

from .attendance import Attendance, AttendanceChange, AttendanceStatus
from .audit import AuditEvent
from .base import utcnow
from .browser_sessions import BrowserSession
from .certificates import Certificate, CertificateStatus, CourtDocument, DocumentKind
from .cohorts import Cohort, Meeting, SessionStatus, cohort_facilitators
from .courts import Court
from .curriculum import CurriculumAsset, CurriculumVersion, Module, Program, ReflectionPrompt
from .enrollments import (
    ALLOWED_TRANSITIONS,
    CONTACT_METHODS,
    RECOMMENDATIONS,
    ContactAttempt,
    Enrollment,
    EnrollmentState,
    EnrollmentTransition,
    ReferralType,
)
from .provider import Provider
from .reflections import Reflection, ReflectionAttempt, ReflectionState, Review, ReviewOutcome
from .second_factor import Passkey, RecoveryCode
from .users import Role, User

__all__ = [
    "ALLOWED_TRANSITIONS",
    "Attendance",
    "AttendanceChange",
    "AttendanceStatus",
    "AuditEvent",
    "BrowserSession",
    "Certificate",
    "CertificateStatus",
    "CONTACT_METHODS",
    "ContactAttempt",
    "Cohort",
    "Court",
    "CourtDocument",
    "CurriculumAsset",
    "CurriculumVersion",
    "DocumentKind",
    "Enrollment",
    "EnrollmentState",
    "EnrollmentTransition",
    "Module",
    "Passkey",
    "Program",
    "RECOMMENDATIONS",
    "Provider",
    "RecoveryCode",
    "ReferralType",
    "Reflection",
    "ReflectionAttempt",
    "ReflectionPrompt",
    "ReflectionState",
    "Review",
    "ReviewOutcome",
    "Role",
    "Meeting",
    "SessionStatus",
    "User",
    "cohort_facilitators",
    "utcnow",
]
