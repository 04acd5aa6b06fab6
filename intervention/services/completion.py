"""The completion engine: where a case stands against its program's policy and court orders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ..models import (
    AttendanceStatus,
    Enrollment,
    EnrollmentState,
    ReflectionState,
    Session,
    SessionStatus,
    utcnow,
)
from .attendance import local_date

ABSENCES = {AttendanceStatus.ABSENT, AttendanceStatus.LEFT_EARLY}
# What he still has to do about each kind of reflection not yet accepted, most urgent first.
REFLECTION_OWED = {
    ReflectionState.RETURNED: "to revise and submit again",
    ReflectionState.DRAFT: "to write and submit",
    ReflectionState.SUBMITTED: "waiting for review",
}


@dataclass
class SessionLine:
    session: Session
    status: AttendanceStatus | None
    minutes: int
    credited: bool
    counts: bool  # False for sessions before his enrollment began


@dataclass
class Completion:
    complete: bool
    possible: bool
    unmet: list[str]
    violations: list[str]
    sessions_required: int
    sessions_credited: int
    absences: int
    minutes_credited: int
    reflections_required: int
    reflections_accepted: int
    lines: list[SessionLine] = field(default_factory=list)

    @property
    def hours_credited(self) -> float:
        return round(self.minutes_credited / 60, 1)


def effective_policy(enrollment: Enrollment) -> dict:
    policy = dict(enrollment.cohort.version.policy)
    policy.update(enrollment.overrides or {})
    if policy.get("sessions_required") is None:
        policy["sessions_required"] = len(enrollment.cohort.version.modules)
    return policy


def is_credited(status: AttendanceStatus | None, policy: dict) -> bool:
    if status in (AttendanceStatus.PRESENT, AttendanceStatus.MADE_UP):
        return True
    return status is AttendanceStatus.LATE and bool(policy.get("late_counts_as_attended"))


def evaluate(enrollment: Enrollment, today: date | None = None) -> Completion:
    policy = effective_policy(enrollment)
    today = today or utcnow().date()
    marks = {a.session_id: a for a in enrollment.attendance}

    lines: list[SessionLine] = []
    credited = absences = consecutive = worst_run = minutes = 0
    owed_makeups = 0
    upcoming = 0
    last_attended: date | None = None
    for session in enrollment.cohort.sessions:
        if session.status is SessionStatus.CANCELLED:
            continue
        counts = local_date(session) >= enrollment.starts_on
        mark = marks.get(session.id)
        status = mark.status if mark else None
        ok = is_credited(status, policy)
        lines.append(SessionLine(session, status, mark.minutes_credited if mark else 0, ok, counts))
        if not counts:
            continue
        if mark is None:
            # Not held yet, or held and not marked yet: either way it may still be credited.
            upcoming += 1
            continue
        if ok:
            credited += 1
            minutes += mark.minutes_credited
            consecutive = 0
            last_attended = local_date(session)
        elif status in ABSENCES:
            absences += 1
            consecutive += 1
            worst_run = max(worst_run, consecutive)
        if status in ABSENCES | {AttendanceStatus.EXCUSED} and policy.get("makeups_required"):
            owed_makeups += 1

    required = policy["sessions_required"]
    unmet: list[str] = []
    violations: list[str] = []
    if credited < required:
        unmet.append(
            f"{plural(required - credited, 'more session')} to attend "
            f"({credited} of {required} credited)."
        )
    if owed_makeups and policy.get("makeups_required"):
        unmet.append(f"{plural(owed_makeups, 'missed session')} to make up.")

    prompts = [p for m in enrollment.cohort.version.modules for p in m.prompts if p.required]
    states = {r.prompt_id: r.state for r in enrollment.reflections}
    accepted = sum(1 for p in prompts if states.get(p.id) is ReflectionState.ACCEPTED)
    owed: dict[ReflectionState, list[int]] = {state: [] for state in REFLECTION_OWED}
    for p in prompts:
        state = states.get(p.id) or ReflectionState.DRAFT
        if state is not ReflectionState.ACCEPTED:
            owed[state].append(p.module.session_number)
    for state, sessions in owed.items():
        if sessions:
            unmet.append(
                f"{plural(len(sessions), 'reflection')} {REFLECTION_OWED[state]}: "
                f"{_sessions(sessions)}."
            )

    max_abs = policy.get("max_absences")
    if max_abs is not None and absences > max_abs:
        violations.append(f"{plural(absences, 'absence')}; the limit is {max_abs}.")
    max_run = policy.get("max_consecutive_absences")
    if max_run is not None and worst_run > max_run:
        violations.append(f"{worst_run} absences in a row; the limit is {max_run}.")
    max_gap = policy.get("max_gap_days")
    gap_from = last_attended or enrollment.starts_on
    if max_gap and credited < required and (today - gap_from).days > max_gap:
        violations.append(
            f"{(today - gap_from).days} days without attendance; the limit is {max_gap}."
        )
    if enrollment.completion_deadline and today > enrollment.completion_deadline:
        violations.append(
            f"The completion deadline ({enrollment.completion_deadline:%b %d, %Y}) has passed."
        )

    reachable = credited + upcoming >= required or owed_makeups > 0
    possible = enrollment.state.is_open and not violations and reachable
    if enrollment.state is EnrollmentState.COMPLETED:
        possible = True
    complete = credited >= required and not unmet and not violations
    return Completion(
        complete=complete,
        possible=possible or complete,
        unmet=unmet + violations,
        violations=violations,
        sessions_required=required,
        sessions_credited=credited,
        absences=absences,
        minutes_credited=minutes,
        reflections_required=len(prompts),
        reflections_accepted=accepted,
        lines=lines,
    )


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _sessions(numbers: list[int]) -> str:
    unique = sorted(set(numbers))
    if len(unique) == 1:
        return f"session {unique[0]}"
    return "sessions " + ", ".join(map(str, unique[:-1])) + f" and {unique[-1]}"
