"""The completion engine: where a case stands against its program's policy and court orders.

`evaluate` returns facts (counts, dates, which rules are broken and by how much, what is still
owed); `completion_text` says them in the reader's language. Nothing here is a sentence, so a
court's system gets the same facts a page shows, and a page in Spanish the same as in English.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from ..models import (
    Attendance,
    AttendanceStatus,
    Enrollment,
    EnrollmentState,
    Meeting,
    ReflectionState,
    SessionStatus,
    utcnow,
)
from .policy import absence_statuses, effective_policy, is_credited, missed_statuses

# How close to a limit counts as "at risk".
GAP_WARNING_DAYS = 7
DEADLINE_WARNING_DAYS = 14


class Rule(enum.StrEnum):
    """The policy rules whose breach drafts a non-compliance notice, in the order reported."""

    MAX_ABSENCES = "max_absences"
    MAX_CONSECUTIVE_ABSENCES = "max_consecutive_absences"
    MAX_GAP_DAYS = "max_gap_days"
    COMPLETION_DEADLINE = "completion_deadline"


RULES = tuple(Rule)


class Owing(enum.StrEnum):
    """What he still has to do, most urgent first within sessions and within reflections."""

    ATTEND = "attend"  # sessions of his own cohort still ahead of him (or not marked yet)
    MAKE_UP = "make_up"  # missed sessions the policy says he must make up
    MAKE_UP_ELSEWHERE = "make_up_elsewhere"  # more than his cohort has left: another group's
    REVISE = "revise"  # reflections returned to him
    WRITE = "write"  # reflections not submitted yet
    AWAIT_REVIEW = "await_review"  # reflections submitted, not reviewed yet


# A reflection not yet accepted, by its state: what he owes for it.
REFLECTION_OWING = {
    ReflectionState.RETURNED: Owing.REVISE,
    ReflectionState.DRAFT: Owing.WRITE,
    ReflectionState.SUBMITTED: Owing.AWAIT_REVIEW,
}


@dataclass(frozen=True)
class Breach:
    """A broken rule. `count` is what broke it (absences, absences in a row, days without
    attendance, days past the deadline), `limit` the policy's figure (for the deadline, its
    date), `since` the day it was first broken, so one breach drafts one notice."""

    rule: Rule
    count: int
    limit: int | date
    since: date


@dataclass(frozen=True)
class Owed:
    """One requirement not met yet: how many, and which sessions it concerns. For
    MAKE_UP_ELSEWHERE, `count` may be fewer than `sessions`: any of them will do."""

    kind: Owing
    count: int
    sessions: tuple[int, ...] = ()

    @property
    def any_of(self) -> bool:
        return self.count < len(self.sessions)


@dataclass(frozen=True)
class Risk:
    """A rule one step from broken. `count` is where he stands (absences so far, in a row,
    days without attendance, days left before the deadline), `limit` the policy's figure (the
    deadline's date), `on` the day a gap reaches its limit, `sessions` what is still owed."""

    rule: Rule
    count: int
    limit: int | date
    on: date | None = None
    sessions: int = 0


@dataclass
class SessionLine:
    """One session of his own cohort, as it stands for him."""

    session: Meeting
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

    @property
    def did(self) -> AttendanceStatus | None:
        """What he did at his own session: a make-up credits it but does not undo an absence."""
        return self.missed_as if self.status is AttendanceStatus.MADE_UP else self.status


@dataclass
class Completion:
    """Where a case stands, as facts."""

    complete: bool
    possible: bool
    sessions_required: int
    sessions_credited: int
    absences: int
    minutes_credited: int
    reflections_required: int
    reflections_accepted: int
    lines: list[SessionLine] = field(default_factory=list)
    breaches: list[Breach] = field(default_factory=list)  # in RULES order
    owed: list[Owed] = field(default_factory=list)
    # Sessions not cancelled that can still count, when fewer than required; else None.
    sessions_available: int | None = None
    risks: list[Risk] = field(default_factory=list)
    makeups_owed: list[int] = field(default_factory=list)  # session numbers
    unmarked: list[Meeting] = field(default_factory=list)  # held, counting, not marked yet
    absences_in_a_row: int = 0  # the run he is on now
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
    def at_risk(self) -> bool:
        return bool(self.risks)


def local_today(enrollment: Enrollment) -> date:
    return utcnow().astimezone(ZoneInfo(enrollment.cohort.timezone)).date()


@dataclass
class _Tally:
    """His own cohort's sessions, counted in order (see _count_sessions)."""

    lines: list[SessionLine] = field(default_factory=list)
    credited: int = 0
    minutes: int = 0
    absences: int = 0
    run: int = 0  # absences in a row, now
    worst_run: int = 0
    cancelled: int = 0
    makeups_owed: list[int] = field(default_factory=list)
    last_attended: date | None = None
    # The day each absence limit was first broken.
    broken_on: dict[Rule, date] = field(default_factory=dict)
    # Set once the walk is done (see evaluate).
    required: int = 0
    gap_since: date | None = None  # his last attendance, or his start
    gap_days: int = 0

    @property
    def owes_sessions(self) -> bool:
        return self.credited < self.required or bool(self.makeups_owed)

    @property
    def counting(self) -> list[SessionLine]:
        """Lines that count for him: from his start, or made up from before it."""
        return [
            line for line in self.lines if line.counts or line.status is AttendanceStatus.MADE_UP
        ]

    @property
    def open_lines(self) -> list[SessionLine]:
        return [line for line in self.counting if line.attendance is None]

    @property
    def unmarked(self) -> list[SessionLine]:
        return [line for line in self.open_lines if line.past]


def evaluate(enrollment: Enrollment, today: date | None = None) -> Completion:
    """Apply the program's policy and the court's overrides to his marks, as of `today`
    (the cohort's local date). Only his own cohort's sessions count; a make-up credits the
    session he missed, never the other cohort's session he attended."""
    policy = effective_policy(enrollment)
    today = today or local_today(enrollment)
    tally = _count_sessions(enrollment, policy, today, utcnow())
    tally.required = required = _sessions_required(policy, tally)
    tally.gap_since, tally.gap_days = _gap(enrollment, tally, today)
    prompts = _required_prompts(enrollment)
    owed = _sessions_owed(tally) + _reflections_owed(enrollment, prompts)
    breaches = _breaches(enrollment, policy, tally, today, owed)
    available = len(tally.lines) if len(tally.lines) < required else None
    complete = tally.credited >= required and not owed and not breaches and available is None
    if enrollment.state is EnrollmentState.COMPLETED:
        possible = True
    else:
        possible = complete or (enrollment.state.is_open and not breaches and available is None)
    risks: list[Risk] = []
    if possible and not complete and enrollment.state.is_open:
        risks = _risks(enrollment, policy, tally, today)
    return Completion(
        complete=complete,
        possible=possible,
        sessions_required=required,
        sessions_credited=tally.credited,
        absences=tally.absences,
        minutes_credited=tally.minutes,
        reflections_required=len(prompts),
        reflections_accepted=_accepted(enrollment, prompts),
        lines=tally.lines,
        breaches=breaches,
        owed=owed,
        sessions_available=available,
        risks=risks,
        makeups_owed=tally.makeups_owed,
        unmarked=[line.session for line in tally.unmarked],
        absences_in_a_row=tally.run,
        days_without_attendance=tally.gap_days,
        last_attended=tally.last_attended,
        enrollment=enrollment,
        required_prompts=frozenset(p.id for p in prompts),
    )


def _count_sessions(enrollment: Enrollment, policy: dict, today: date, now: datetime) -> _Tally:
    """Walk his cohort's sessions in order: credits, absences and runs, make-ups owed, and
    the day each absence limit was first broken."""
    tally = _Tally()
    marks = {a.session_id: a for a in enrollment.attendance}
    for session in enrollment.cohort.sessions:
        if session.status is SessionStatus.CANCELLED:
            tally.cancelled += 1  # the program did not hold it: never for or against him
            continue
        line = _line(session, marks.get(session.id), enrollment, policy, today, now)
        tally.lines.append(line)
        if line.attendance is None or not (line.counts or line.status is AttendanceStatus.MADE_UP):
            continue  # not marked, or before he started (only a make-up of it credits him)
        _credit(tally, line)
        _count_absence(tally, line, policy)
        if not line.credited and line.counts and line.status in missed_statuses(policy):
            if policy.get("makeups_required"):
                line.owes_makeup = True
                tally.makeups_owed.append(session.number)
    return tally


def _line(
    session: Meeting,
    mark: Attendance | None,
    enrollment: Enrollment,
    policy: dict,
    today: date,
    now: datetime,
) -> SessionLine:
    day = session.local_date
    status = mark.status if mark else None
    return SessionLine(
        session,
        status,
        mark.minutes_credited if mark else 0,
        is_credited(status, policy),
        counts=day >= enrollment.starts_on,
        past=day < today or (day == today and session.scheduled_at <= now),
        attendance=mark,
        missed_as=mark.status_before_makeup if status is AttendanceStatus.MADE_UP else None,
    )


def _credit(tally: _Tally, line: SessionLine) -> None:
    """A credited session: its minutes, and the day he attended it (for a make-up, the day of
    the other cohort's session he attended)."""
    if not line.credited:
        return
    mark = line.attendance
    tally.credited += 1
    tally.minutes += mark.minutes_credited
    attended_on = line.session.local_date
    if line.status is AttendanceStatus.MADE_UP and mark.linked_attendance is not None:
        attended_on = mark.linked_attendance.session.local_date
    tally.last_attended = max(tally.last_attended or attended_on, attended_on)


def _count_absence(tally: _Tally, line: SessionLine, policy: dict) -> None:
    """An absence at his own session counts, and may break a limit; attending ends a run;
    an excused absence neither ends nor extends it."""
    if line.did in absence_statuses(policy) and line.counts:
        tally.absences += 1
        tally.run += 1
        tally.worst_run = max(tally.worst_run, tally.run)
        day = line.session.local_date
        max_abs, max_run = policy.get("max_absences"), policy.get("max_consecutive_absences")
        if max_abs is not None and tally.absences == max_abs + 1:
            tally.broken_on[Rule.MAX_ABSENCES] = day
        if max_run is not None and tally.run == max_run + 1:
            tally.broken_on.setdefault(Rule.MAX_CONSECUTIVE_ABSENCES, day)
    elif line.did is not None and line.did is not AttendanceStatus.EXCUSED:
        tally.run = 0


def _sessions_required(policy: dict, tally: _Tally) -> int:
    """A cancelled session is not owed: once the cohort has no spare sessions left, each
    cancellation lowers the number required."""
    required = policy["sessions_required"]
    spare = max(0, len(tally.lines) + tally.cancelled - required)
    return required - max(0, tally.cancelled - spare)


def _gap(enrollment: Enrollment, tally: _Tally, today: date) -> tuple[date, int]:
    """(since, days) without attendance: from his last attendance (or his start) to today, but
    never past a held session nobody has marked yet: he may have been there, so that is for
    the facilitator to mark."""
    since = tally.last_attended or enrollment.starts_on
    until = today
    pending = [d for d in (line.session.local_date for line in tally.unmarked) if d >= since]
    if pending:
        until = min(until, min(pending))
    return since, max(0, (until - since).days)


def _sessions_owed(tally: _Tally) -> list[Owed]:
    """Sessions to attend in his own cohort, make-ups owed, and what can only be made up in
    another cohort because his has too few sessions left."""
    owed = []
    still = tally.required - tally.credited - len(tally.makeups_owed)
    to_attend = min(still, len(tally.open_lines))
    if to_attend > 0:
        owed.append(Owed(Owing.ATTEND, to_attend))
    if tally.makeups_owed:
        owed.append(Owed(Owing.MAKE_UP, len(tally.makeups_owed), tuple(tally.makeups_owed)))
    extra = still - max(0, to_attend)
    still_open = {id(line) for line in tally.open_lines}
    elsewhere = tuple(
        line.session.number
        for line in tally.lines
        if not line.credited and id(line) not in still_open and not line.owes_makeup
    )
    if extra > 0 and elsewhere:
        owed.append(Owed(Owing.MAKE_UP_ELSEWHERE, min(extra, len(elsewhere)), elsewhere))
    return owed


def _required_prompts(enrollment: Enrollment) -> list:
    return [p for m in enrollment.cohort.version.modules for p in m.prompts if p.required]


def _accepted(enrollment: Enrollment, prompts: list) -> int:
    states = {r.prompt_id: r.state for r in enrollment.reflections}
    return sum(1 for p in prompts if states.get(p.id) is ReflectionState.ACCEPTED)


def _reflections_owed(enrollment: Enrollment, prompts: list) -> list[Owed]:
    """Required reflections not accepted yet, grouped by what he has to do about them."""
    states = {r.prompt_id: r.state for r in enrollment.reflections}
    sessions: dict[Owing, list[int]] = {owing: [] for owing in REFLECTION_OWING.values()}
    for p in prompts:
        state = states.get(p.id) or ReflectionState.DRAFT
        if state is not ReflectionState.ACCEPTED:
            sessions[REFLECTION_OWING[state]].append(p.module.session_number)
    return [
        Owed(owing, len(found), tuple(sorted(set(found))))
        for owing, found in sessions.items()
        if found
    ]


def _breaches(
    enrollment: Enrollment,
    policy: dict,
    tally: _Tally,
    today: date,
    owed: list[Owed],
) -> list[Breach]:
    """The rules broken, in RULES order."""
    # The absence limits, each as the policy names it: broken by the count, when it first was.
    counted = {Rule.MAX_ABSENCES: tally.absences, Rule.MAX_CONSECUTIVE_ABSENCES: tally.worst_run}
    found = {
        rule: Breach(rule, count, policy[rule.value], tally.broken_on[rule])
        for rule, count in counted.items()
        if rule in tally.broken_on
    }
    max_gap = policy.get("max_gap_days")
    if max_gap and tally.owes_sessions and tally.gap_days > max_gap:
        found[Rule.MAX_GAP_DAYS] = Breach(
            Rule.MAX_GAP_DAYS,
            tally.gap_days,
            max_gap,
            tally.gap_since + timedelta(days=max_gap + 1),
        )
    deadline = enrollment.completion_deadline
    if deadline and today > deadline and owed and enrollment.state.is_open:
        found[Rule.COMPLETION_DEADLINE] = Breach(
            Rule.COMPLETION_DEADLINE,
            (today - deadline).days,
            deadline,
            deadline + timedelta(days=1),
        )
    return [found[rule] for rule in RULES if rule in found]


def _risks(enrollment: Enrollment, policy: dict, tally: _Tally, today: date) -> list[Risk]:
    """Rules one more absence, or a few more days, from broken."""
    risks = []
    ahead = any(not line.past for line in tally.lines if line.counts)
    max_abs = policy.get("max_absences")
    if max_abs and tally.absences == max_abs and ahead:
        risks.append(Risk(Rule.MAX_ABSENCES, tally.absences, max_abs))
    max_run = policy.get("max_consecutive_absences")
    if max_run and tally.run == max_run and ahead:
        risks.append(Risk(Rule.MAX_CONSECUTIVE_ABSENCES, tally.run, max_run))
    max_gap = policy.get("max_gap_days")
    owes = tally.owes_sessions
    if max_gap and owes and max_gap - GAP_WARNING_DAYS <= tally.gap_days <= max_gap:
        on = tally.gap_since + timedelta(days=max_gap + 1)
        risks.append(Risk(Rule.MAX_GAP_DAYS, tally.gap_days, max_gap, on=on))
    deadline = enrollment.completion_deadline
    if deadline and owes and 0 <= (deadline - today).days <= DEADLINE_WARNING_DAYS:
        still = max(tally.required - tally.credited, len(tally.makeups_owed))
        risks.append(
            Risk(Rule.COMPLETION_DEADLINE, (deadline - today).days, deadline, sessions=still)
        )
    return risks


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


def as_json(result: Completion) -> dict:
    """The facts as a court's system reads them: numbers, dates and names of rules, never
    sentences (those are in the reader's language; see completion_text)."""

    def plain(value: int | date) -> int | str:
        return value.isoformat() if isinstance(value, date) else value

    return {
        "complete": result.complete,
        "possible": result.possible,
        "sessions_credited": result.sessions_credited,
        "sessions_required": result.sessions_required,
        "hours_credited": result.hours_credited,
        "absences": result.absences,
        "reflections_accepted": result.reflections_accepted,
        "reflections_required": result.reflections_required,
        "owed": [
            {"kind": item.kind.value, "count": item.count, "sessions": list(item.sessions)}
            for item in result.owed
        ],
        "breaches": [
            {
                "rule": b.rule.value,
                "count": b.count,
                "limit": plain(b.limit),
                "since": b.since.isoformat(),
            }
            for b in result.breaches
        ],
        "sessions_available": result.sessions_available,
        "completed_on": result.completed_on.isoformat() if result.complete else None,
    }
