"""The program's completion and non-compliance rates, month by month, for the director's chart.

Months are calendar months in UTC. A case *closes* when it moves to a closed state (completed,
terminated, returned to court, withdrawn); closed states are final, so a case closes once.

- **Completion rate** of a month: of the cases that closed that month, the share that closed
  as completed. None when no case closed that month.
- **Non-compliance rate** of a month: of the cases open at some time that month (enrolled
  before its end and not closed before its start), the share with a non-compliance notice
  drafted that month. None when no case was open that month.

Three GROUP BY queries give every figure (one row per month and state, never one per case);
rows older than the chart count together, so only the last year's are bucketed by month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from itertools import accumulate

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.sql.expression import FunctionElement

from ..extensions import db
from ..models import (
    Certificate,
    Cohort,
    Court,
    CourtDocument,
    DocumentKind,
    Enrollment,
    EnrollmentState,
    EnrollmentTransition,
    Role,
    User,
    utcnow,
)

CLOSED_STATES = [s for s in EnrollmentState if not s.is_open]
MONTHS_SHOWN = 12


class utc_month(FunctionElement):
    """'YYYY-MM' of a UTC timestamp: strftime on SQLite, to_char on PostgreSQL."""

    type = sa.String()
    inherit_cache = True


@compiles(utc_month, "sqlite")
def _utc_month_sqlite(element, compiler, **kw):
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)})"


@compiles(utc_month, "postgresql")
def _utc_month_postgresql(element, compiler, **kw):
    return f"to_char({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC', 'YYYY-MM')"


@dataclass(frozen=True)
class MonthRates:
    month: date  # the first day of the month
    closed: int  # cases that closed this month
    completed: int  # of those, closed as completed
    open: int  # cases open at some time this month
    with_notice: int  # of those, with a non-compliance notice drafted this month

    @property
    def completion_rate(self) -> float | None:
        return self.completed / self.closed if self.closed else None

    @property
    def noncompliance_rate(self) -> float | None:
        return min(self.with_notice / self.open, 1.0) if self.open else None


def last_months(today: date, count: int = MONTHS_SHOWN) -> list[date]:
    """The first days of the `count` months ending with today's, oldest first."""
    index = today.year * 12 + today.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - count + 1, index + 1)]


def _key(month: date) -> str:
    return f"{month:%Y-%m}"


# Rows from before the chart's first month share one bucket: only their total matters, and
# comparing a timestamp is cheaper than formatting it.
EARLIER = "0000-00"


def _bucket(column, start: datetime):
    """The row's month, or EARLIER; labelled, so GROUP BY names it rather than repeating the
    expression (PostgreSQL would not match two copies holding bound parameters)."""
    return sa.case((column < start, sa.literal(EARLIER)), else_=utc_month(column)).label("month")


def _per_month(query) -> dict[str, int]:
    return {month: count for month, count in db.session.execute(query) if month is not None}


def _before(counts: dict[str, int], months: list[date]) -> list[int]:
    """For each month, the total of `counts` over every earlier month (all history)."""
    earlier = sum(n for key, n in counts.items() if key < _key(months[0]))
    within = [counts.get(_key(m), 0) for m in months]
    return list(accumulate([earlier, *within]))[:-1]


def monthly_rates(now: datetime | None = None, count: int = MONTHS_SHOWN) -> list[MonthRates]:
    """Completion and non-compliance rates of the last `count` months, oldest first."""
    months = last_months((now or utcnow()).date(), count)
    start = datetime.combine(months[0], time.min, tzinfo=UTC)
    closing = _bucket(EnrollmentTransition.at, start)
    closings = db.session.execute(
        sa.select(closing, EnrollmentTransition.to_state, sa.func.count())
        .where(EnrollmentTransition.to_state.in_(CLOSED_STATES))
        .group_by("month", EnrollmentTransition.to_state)
    ).all()
    closed: dict[str, int] = {}
    completed: dict[str, int] = {}
    for month, state, n in closings:
        closed[month] = closed.get(month, 0) + n
        if state is EnrollmentState.COMPLETED:
            completed[month] = n
    enrolling = _bucket(Enrollment.created_at, start)
    enrolled = _per_month(sa.select(enrolling, sa.func.count()).group_by("month"))
    drafting = utc_month(CourtDocument.created_at)
    noticed = _per_month(
        sa.select(drafting, sa.func.count(sa.distinct(CourtDocument.enrollment_id)))
        .where(
            CourtDocument.kind == DocumentKind.NONCOMPLIANCE_NOTICE,
            CourtDocument.created_at >= start,
        )
        .group_by(drafting)
    )
    enrolled_before = _before(enrolled, months)
    closed_before = _before(closed, months)
    return [
        MonthRates(
            month=month,
            closed=closed.get(_key(month), 0),
            completed=completed.get(_key(month), 0),
            # Enrolled by the month's end, less those closed before it began.
            open=enrolled_before[i] + enrolled.get(_key(month), 0) - closed_before[i],
            with_notice=noticed.get(_key(month), 0),
        )
        for i, month in enumerate(months)
    ]


@dataclass
class Overview:
    """The program at a glance, for the director's first page: counts, and the newest of
    each list (`rows` of them)."""

    cases_by_state: dict[EnrollmentState, int]
    courts: int
    cohorts: int
    recent_cohorts: list  # (cohort, men enrolled), newest first
    staff_by_role: dict[Role, int]
    recent_certificates: list[Certificate]


def overview(rows: int) -> Overview:
    counts = dict(
        db.session.execute(
            sa.select(Enrollment.state, sa.func.count()).group_by(Enrollment.state)
        ).all()
    )
    enrolled = (
        sa.select(Enrollment.cohort_id, sa.func.count().label("men"))
        .group_by(Enrollment.cohort_id)
        .subquery()
    )
    recent_cohorts = db.session.execute(
        sa.select(Cohort, sa.func.coalesce(enrolled.c.men, 0))
        .outerjoin(enrolled, enrolled.c.cohort_id == Cohort.id)
        .options(selectinload(Cohort.facilitators))
        .order_by(Cohort.start_date.desc(), Cohort.id.desc())
        .limit(rows)
    ).all()
    staff = db.session.execute(
        sa.select(User.role, sa.func.count())
        .where(User.role != Role.PARTICIPANT)
        .group_by(User.role)
    ).all()
    certificates = db.session.scalars(
        sa.select(Certificate)
        .options(
            joinedload(Certificate.enrollment).joinedload(Enrollment.participant),
            joinedload(Certificate.enrollment).joinedload(Enrollment.court),
        )
        .order_by(Certificate.issued_at.desc())
        .limit(rows)
    ).all()
    return Overview(
        cases_by_state={state: counts.get(state, 0) for state in EnrollmentState},
        courts=db.session.scalar(sa.select(sa.func.count()).select_from(Court)),
        cohorts=db.session.scalar(sa.select(sa.func.count()).select_from(Cohort)),
        recent_cohorts=list(recent_cohorts),
        staff_by_role=dict(staff),
        recent_certificates=list(certificates),
    )
