"""A case's attendance policy: the program's rules with the court's overrides, and what each
mark counts as under them. Read by the completion engine and by attendance alike."""

from __future__ import annotations

from ..models import AttendanceStatus, Enrollment


def effective_policy(enrollment: Enrollment) -> dict:
    """The program version's policy, with the court's overrides for this case on top."""
    policy = dict(enrollment.cohort.version.policy)
    policy.update(enrollment.overrides or {})
    if policy.get("sessions_required") is None:
        policy["sessions_required"] = len(enrollment.cohort.version.modules)
    return policy


def is_credited(status: AttendanceStatus | None, policy: dict) -> bool:
    """Whether a session marked `status` counts as attended."""
    if status in (AttendanceStatus.PRESENT, AttendanceStatus.MADE_UP):
        return True
    return status is AttendanceStatus.LATE and bool(policy.get("late_counts_as_attended"))


def absence_statuses(policy: dict) -> set[AttendanceStatus]:
    """Marks that count as an absence: late too, when lateness does not count as attending."""
    statuses = {AttendanceStatus.ABSENT, AttendanceStatus.LEFT_EARLY}
    if not policy.get("late_counts_as_attended"):
        statuses.add(AttendanceStatus.LATE)
    return statuses


def missed_statuses(policy: dict) -> set[AttendanceStatus]:
    """Marks of a session he did not get credit for, which a make-up can replace."""
    return absence_statuses(policy) | {AttendanceStatus.EXCUSED}
