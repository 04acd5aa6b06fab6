"""The completion engine: where a case stands against its program's policy and court orders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import ngettext

from ..models import (
    Attendance,
    AttendanceStatus,
    Enrollment,
    EnrollmentState,
    ReflectionState,
    Session,
    SessionStatus,
    utcnow,
)
from .attendance import local_date, status_before_makeup

# The policy rules whose breach drafts a non-compliance notice, in the order they are reported.
RULES = ("max_absences", "max_consecutive_absences", "max_gap_days", "completion_deadline")
# How close to a limit counts as "at risk".
GAP_WARNING_DAYS = 7
DEADLINE_WARNING_DAYS = 14
# The kinds of reflection not yet accepted, most urgent first (see _reflections_owed).
REFLECTION_OWED = (ReflectionState.RETURNED, ReflectionState.DRAFT, ReflectionState.SUBMITTED)


@dataclass
class SessionLine:
    """One session of his own cohort, as it stands for him."""

    session: Session
    status: AttendanceStatus | None
    minutes: int
    credited: bool
    counts: bool  # False for sessions before his enrollment began
    past: bool = False  # the session has started (cancelled sessions are never listed)
    attendance: Attendance | None = None
    # For a made-up session: how he was first marked at his own session (None if never).
    missed_as: AttendanceStatus | None = None
    owes_makeup: bool = False

    @property
    def unmarked(self) -> bool:
        """Held (its time has passed) and counting, but nobody has marked him yet."""
        return self.counts and self.past and self.status is None


@dataclass
class Violation:
    rule: str  # one of RULES
    reason: str  # plain words in the current language, shown to staff, the man and the court
    since: date  # the day the rule was first broken, so one breach drafts one notice


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
    breaches: list[Violation] = field(default_factory=list)
    # Why completion is no longer possible: the violations, or too few sessions left.
    blockers: list[str] = field(default_factory=list)
    at_risk: bool = False
    risk: list[str] = field(default_factory=list)  # why he is at risk, in plain words
    makeups_owed: list[int] = field(default_factory=list)  # session numbers
    unmarked: list[Session] = field(default_factory=list)  # held, counting, not marked yet
    days_without_attendance: int = 0
    last_attended: date | None = None  # his last credited session, where he attended it
    enrollment: Enrollment | None = field(default=None, repr=False)
    required_prompts: frozenset[int] = frozenset()

    @cached_property
    def completed_on(self) -> date | None:
        """The day the last requirement was met (his last credited session or his last
        accepted reflection, whichever is later), in the cohort's calendar; None until
        complete. This, never the day a certificate is issued, is the completion date a court
        is told. Worked out when asked: dashboards that evaluate many cases never load the
        reviews it needs."""
        if not self.complete or self.enrollment is None:
            return None
        accepted = _last_accepted(self.enrollment, self.required_prompts)
        met = [d for d in (self.last_attended, accepted) if d is not None]
        return max(met) if met else None

    @property
    def hours_credited(self) -> float:
        return round(self.minutes_credited / 60, 1)

    @property
    def violated(self) -> dict[str, str]:
        return {v.rule: v.reason for v in self.breaches}


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


def absence_statuses(policy: dict) -> set[AttendanceStatus]:
    """Marks that count as an absence: late too, when lateness does not count as attending."""
    statuses = {AttendanceStatus.ABSENT, AttendanceStatus.LEFT_EARLY}
    if not policy.get("late_counts_as_attended"):
        statuses.add(AttendanceStatus.LATE)
    return statuses


def missed_statuses(policy: dict) -> set[AttendanceStatus]:
    """Marks of a session he did not get credit for, which a make-up can replace."""
    return absence_statuses(policy) | {AttendanceStatus.EXCUSED}


def local_today(enrollment: Enrollment) -> date:
    return utcnow().astimezone(ZoneInfo(enrollment.cohort.timezone)).date()


def evaluate(enrollment: Enrollment, today: date | None = None) -> Completion:
    """Apply the program's policy and the court's overrides to his marks, as of `today`
    (the cohort's local date). Only his own cohort's sessions count; a make-up credits the
    session he missed, never the other cohort's session he attended."""
    policy = effective_policy(enrollment)
    now = utcnow()
    today = today or local_today(enrollment)
    absent_like = absence_statuses(policy)
    makeups_required = bool(policy.get("makeups_required"))
    marks = {a.session_id: a for a in enrollment.attendance}
    max_abs = policy.get("max_absences")
    max_run = policy.get("max_consecutive_absences")

    lines: list[SessionLine] = []
    credited = absences = run = worst_run = minutes = cancelled = 0
    makeups_owed: list[int] = []
    unmarked: list[SessionLine] = []
    open_lines: list[SessionLine] = []  # ahead of him, or held and not marked yet
    last_attended: date | None = None
    breaches: dict[str, Violation] = {}
    for session in enrollment.cohort.sessions:
        if session.status is SessionStatus.CANCELLED:
            cancelled += 1  # the program did not hold it: never for or against him
            continue
        day = local_date(session)
        past = day < today or (day == today and session.scheduled_at <= now)
        counts = day >= enrollment.starts_on
        mark = marks.get(session.id)
        status = mark.status if mark else None
        missed_as = status_before_makeup(mark) if status is AttendanceStatus.MADE_UP else None
        ok = is_credited(status, policy)
        line = SessionLine(
            session,
            status,
            mark.minutes_credited if mark else 0,
            ok,
            counts,
            past=past,
            attendance=mark,
            missed_as=missed_as,
        )
        lines.append(line)
        if not counts and status is not AttendanceStatus.MADE_UP:
            continue  # before he started; only a make-up of it can credit him
        if mark is None:
            open_lines.append(line)
            if past:
                unmarked.append(line)
            continue
        # What he did at his own session: a make-up credits it but does not undo an absence.
        did = missed_as if status is AttendanceStatus.MADE_UP else status
        if ok:
            credited += 1
            minutes += mark.minutes_credited
            attended_on = day
            if status is AttendanceStatus.MADE_UP and mark.linked_attendance is not None:
                attended_on = local_date(mark.linked_attendance.session)
            last_attended = max(last_attended or attended_on, attended_on)
        if did in absent_like and counts:
            absences += 1
            run += 1
            worst_run = max(worst_run, run)
            # The day each limit was first broken: one breach, one notice.
            if max_abs is not None and absences == max_abs + 1:
                breaches["max_absences"] = Violation("max_absences", "", day)
            if max_run is not None and run == max_run + 1:
                breaches.setdefault(
                    "max_consecutive_absences", Violation("max_consecutive_absences", "", day)
                )
        elif did is not None and did is not AttendanceStatus.EXCUSED:
            run = 0  # attending ends a run; an excused absence neither ends nor extends it
        if not ok and counts and status in missed_statuses(policy) and makeups_required:
            line.owes_makeup = True
            makeups_owed.append(session.number)

    # A cancelled session is not owed: once the cohort has no spare sessions left, each
    # cancellation lowers the number required.
    required = policy["sessions_required"]
    spare = max(0, len(lines) + cancelled - required)
    required -= max(0, cancelled - spare)
    owes_sessions = credited < required or bool(makeups_owed)

    # Gap: from his last attendance (or his start) to today, but never past a held session
    # nobody has marked yet: he may have been there, so that is for the facilitator to mark.
    gap_from = last_attended or enrollment.starts_on
    gap_to = today
    pending = [local_date(line.session) for line in unmarked]
    pending = [d for d in pending if d >= gap_from]
    if pending:
        gap_to = min(gap_to, min(pending))
    gap_days = max(0, (gap_to - gap_from).days)

    if "max_absences" in breaches:
        breaches["max_absences"].reason = ngettext(
            "%(num)d absence; the limit is %(limit)d.",
            "%(num)d absences; the limit is %(limit)d.",
            absences,
            limit=max_abs,
        )
    if "max_consecutive_absences" in breaches:
        breaches["max_consecutive_absences"].reason = ngettext(
            "%(num)d absence in a row; the limit is %(limit)d.",
            "%(num)d absences in a row; the limit is %(limit)d.",
            worst_run,
            limit=max_run,
        )
    max_gap = policy.get("max_gap_days")
    if max_gap and owes_sessions and gap_days > max_gap:
        breaches["max_gap_days"] = Violation(
            "max_gap_days",
            ngettext(
                "%(num)d day without attendance; the limit is %(limit)d.",
                "%(num)d days without attendance; the limit is %(limit)d.",
                gap_days,
                limit=max_gap,
            ),
            gap_from + timedelta(days=max_gap + 1),
        )

    unmet: list[str] = []
    still = required - credited - len(makeups_owed)
    to_attend = min(still, len(open_lines))
    if to_attend > 0:
        unmet.append(
            ngettext(
                "%(num)d more session to attend (%(credited)d of %(required)d credited).",
                "%(num)d more sessions to attend (%(credited)d of %(required)d credited).",
                to_attend,
                credited=credited,
                required=required,
            )
        )
    if makeups_owed:
        unmet.append(
            ngettext(
                "%(num)d missed session to make up: %(sessions)s.",
                "%(num)d missed sessions to make up: %(sessions)s.",
                len(makeups_owed),
                sessions=_sessions(makeups_owed),
            )
        )
    # More than his cohort has left for him: the rest can only be made up in another cohort.
    extra = still - max(0, to_attend)
    still_open = {id(line) for line in open_lines}
    elsewhere = [
        line.session.number
        for line in lines
        if not line.credited and id(line) not in still_open and not line.owes_makeup
    ]
    if extra > 0 and elsewhere:
        unmet.append(_elsewhere(min(extra, len(elsewhere)), elsewhere))

    prompts = [p for m in enrollment.cohort.version.modules for p in m.prompts if p.required]
    states = {r.prompt_id: r.state for r in enrollment.reflections}
    accepted = sum(1 for p in prompts if states.get(p.id) is ReflectionState.ACCEPTED)
    owed: dict[ReflectionState, list[int]] = {state: [] for state in REFLECTION_OWED}
    for p in prompts:
        state = states.get(p.id) or ReflectionState.DRAFT
        if state is not ReflectionState.ACCEPTED:
            owed[state].append(p.module.session_number)
    unmet += [_reflections_owed(state, sessions) for state, sessions in owed.items() if sessions]

    deadline = enrollment.completion_deadline
    if deadline and today > deadline and unmet and enrollment.state.is_open:
        breaches["completion_deadline"] = Violation(
            "completion_deadline",
            _("The completion deadline (%(date)s) has passed.", date=_day(deadline)),
            deadline + timedelta(days=1),
        )

    ordered = [breaches[rule] for rule in RULES if rule in breaches]
    violations = [v.reason for v in ordered]
    blockers = list(violations)
    # Every session not cancelled can still be credited, by attending it or by a make-up.
    if len(lines) < required:
        blockers.append(
            ngettext(
                "Only %(num)d session can count for this case; %(required)d are required.",
                "Only %(num)d sessions can count for this case; %(required)d are required.",
                len(lines),
                required=required,
            )
        )
    complete = credited >= required and not unmet and not violations
    possible = complete or (enrollment.state.is_open and not blockers)
    if enrollment.state is EnrollmentState.COMPLETED:
        possible = True

    risk: list[str] = []
    if possible and not complete and enrollment.state.is_open:
        ahead = any(not line.past for line in lines if line.counts)
        if max_abs and absences == max_abs and ahead:
            risk.append(
                ngettext(
                    "%(num)d absence so far; one more breaks the limit of %(limit)d.",
                    "%(num)d absences so far; one more breaks the limit of %(limit)d.",
                    absences,
                    limit=max_abs,
                )
            )
        if max_run and run == max_run and ahead:
            risk.append(
                ngettext(
                    "%(num)d absence in a row; one more in a row breaks the limit of %(limit)d.",
                    "%(num)d absences in a row; one more in a row breaks the limit of %(limit)d.",
                    run,
                    limit=max_run,
                )
            )
        if max_gap and owes_sessions and max_gap - GAP_WARNING_DAYS <= gap_days <= max_gap:
            risk.append(
                ngettext(
                    "%(num)d day without attendance; the limit of %(limit)d days is reached "
                    "on %(date)s.",
                    "%(num)d days without attendance; the limit of %(limit)d days is reached "
                    "on %(date)s.",
                    gap_days,
                    limit=max_gap,
                    date=_day(gap_from + timedelta(days=max_gap + 1)),
                )
            )
        if deadline and owes_sessions and 0 <= (deadline - today).days <= DEADLINE_WARNING_DAYS:
            left = (deadline - today).days
            still = max(required - credited, len(makeups_owed))
            risk.append(_deadline_near(_day(deadline), left, still))

    return Completion(
        complete=complete,
        possible=possible,
        unmet=unmet + blockers,
        violations=violations,
        sessions_required=required,
        sessions_credited=credited,
        absences=absences,
        minutes_credited=minutes,
        reflections_required=len(prompts),
        reflections_accepted=accepted,
        lines=lines,
        breaches=ordered,
        blockers=blockers,
        at_risk=bool(risk),
        risk=risk,
        makeups_owed=makeups_owed,
        unmarked=[line.session for line in unmarked],
        days_without_attendance=gap_days,
        last_attended=last_attended,
        enrollment=enrollment,
        required_prompts=frozenset(p.id for p in prompts),
    )


def _last_accepted(enrollment: Enrollment, prompt_ids: set[int]) -> date | None:
    """The local day the last of his required reflections was accepted, if any was."""
    zone = ZoneInfo(enrollment.cohort.timezone)
    days = []
    for reflection in enrollment.reflections:
        if reflection.prompt_id not in prompt_ids:
            continue
        if reflection.state is not ReflectionState.ACCEPTED:
            continue
        attempt = reflection.latest_attempt
        review = attempt.review if attempt is not None else None
        if review is not None:
            days.append(review.created_at.astimezone(zone).date())
    return max(days) if days else None


def _day(value: date) -> str:
    from ..templating import format_date

    return format_date(value)


def _sessions(numbers: list[int]) -> str:
    """ "session 4" / "sessions 2, 5 and 7", in the current language."""
    unique = sorted(set(numbers))
    if len(unique) == 1:
        return _("session %(num)d", num=unique[0])
    return _(
        "sessions %(list)s and %(last)d",
        list=", ".join(map(str, unique[:-1])),
        last=unique[-1],
    )


def _elsewhere(count: int, sessions: list[int]) -> str:
    """Sessions he can only make up in another cohort: all of them, or some of a list."""
    if count < len(sessions):
        return ngettext(
            "%(num)d more session to make up in another group: any of %(sessions)s.",
            "%(num)d more sessions to make up in another group: any of %(sessions)s.",
            count,
            sessions=_sessions(sessions),
        )
    return ngettext(
        "%(num)d more session to make up in another group: %(sessions)s.",
        "%(num)d more sessions to make up in another group: %(sessions)s.",
        count,
        sessions=_sessions(sessions),
    )


def _reflections_owed(state: ReflectionState, sessions: list[int]) -> str:
    """What he still has to do about the reflections of these sessions, in one sentence."""
    n, which = len(sessions), _sessions(sessions)
    if state is ReflectionState.RETURNED:
        return ngettext(
            "%(num)d reflection to revise and submit again: %(sessions)s.",
            "%(num)d reflections to revise and submit again: %(sessions)s.",
            n,
            sessions=which,
        )
    if state is ReflectionState.DRAFT:
        return ngettext(
            "%(num)d reflection to write and submit: %(sessions)s.",
            "%(num)d reflections to write and submit: %(sessions)s.",
            n,
            sessions=which,
        )
    return ngettext(
        "%(num)d reflection waiting for review: %(sessions)s.",
        "%(num)d reflections waiting for review: %(sessions)s.",
        n,
        sessions=which,
    )


def _deadline_near(deadline: str, days_left: int, sessions: int) -> str:
    """The warning that the completion deadline is close, with what is still owed."""
    still = ngettext(
        "%(num)d session still to be credited.", "%(num)d sessions still to be credited.", sessions
    )
    if days_left == 0:
        return _(
            "The completion deadline is %(date)s, today; %(still)s", date=deadline, still=still
        )
    return ngettext(
        "The completion deadline is %(date)s, in %(num)d day; %(still)s",
        "The completion deadline is %(date)s, in %(num)d days; %(still)s",
        days_left,
        date=deadline,
        still=still,
    )
