"""Program director pages: the program at a glance, courts, cohorts and their sessions,
enrollments and invitation links, certificates and their revocation."""

from __future__ import annotations

from babel import dates, numbers
from flask import (
    Blueprint,
    render_template,
    request,
)
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from ..access import guard_blueprint
from ..extensions import db
from ..i18n import current_language
from ..models import (
    Certificate,
    Cohort,
    Court,
    Enrollment,
    EnrollmentState,
    Role,
    User,
)
from ..services import notices as notice_service
from ..services import provider as provider_service
from ..services import stats
from ..services.audit import PAGE_CHECK_EVENTS, verify_chain

bp = Blueprint("admin", __name__)
guard_blueprint(bp, Role.ADMIN)


# The overview shows the newest of each list and links to the full, paged page.
OVERVIEW_ROWS = 10
# "Meets Mondays at...": the plural names, Monday first, as Cohort.weekday counts.
WEEKDAYS_PLURAL = [
    _l("Mondays"),
    _l("Tuesdays"),
    _l("Wednesdays"),
    _l("Thursdays"),
    _l("Fridays"),
    _l("Saturdays"),
    _l("Sundays"),
]


@bp.route("/")
def home():
    counts = dict(
        db.session.execute(select(Enrollment.state, func.count()).group_by(Enrollment.state)).all()
    )
    chain = verify_chain(last=PAGE_CHECK_EVENTS)
    enrolled = (
        select(Enrollment.cohort_id, func.count().label("men"))
        .group_by(Enrollment.cohort_id)
        .subquery()
    )
    recent_cohorts = db.session.execute(
        select(Cohort, func.coalesce(enrolled.c.men, 0))
        .outerjoin(enrolled, enrolled.c.cohort_id == Cohort.id)
        .options(selectinload(Cohort.facilitators))
        .order_by(Cohort.start_date.desc(), Cohort.id.desc())
        .limit(OVERVIEW_ROWS)
    ).all()
    staff_counts = dict(
        db.session.execute(
            select(User.role, func.count()).where(User.role != Role.PARTICIPANT).group_by(User.role)
        ).all()
    )
    overdue = notice_service.overdue()
    return render_template(
        "admin/home.html",
        counts={state: counts.get(state, 0) for state in EnrollmentState},
        court_count=db.session.scalar(select(func.count()).select_from(Court)),
        cohort_count=db.session.scalar(select(func.count()).select_from(Cohort)),
        recent_cohorts=recent_cohorts,
        staff_counts=staff_counts,
        certificates=db.session.scalars(
            select(Certificate)
            .options(
                joinedload(Certificate.enrollment).joinedload(Enrollment.participant),
                joinedload(Certificate.enrollment).joinedload(Enrollment.court),
            )
            .order_by(Certificate.issued_at.desc())
            .limit(OVERVIEW_ROWS)
        ).all(),
        provider_missing=provider_service.current() is None,
        overdue_notices=overdue[:OVERVIEW_ROWS],
        overdue_count=len(overdue),
        open_notices=notice_service.open_count(),
        chain_ok=chain.ok,
        broken=chain.broken,
        events=chain.checked,
        chain_problem=chain.problem,
        roles=Role,
        months=_chart_months(stats.monthly_rates()),
        percent=_percent,
    )


def _chart_months(rates: list[stats.MonthRates]) -> list[dict]:
    """Each month's rates with its name in the reader's language: short on the chart's axis
    (the year under January, and under the first month unless January is right after it),
    long in the table."""
    locale = current_language()
    return [
        {
            "rates": r,
            "short": dates.format_date(r.month, "LLL", locale=locale),
            "long": dates.format_date(r.month, "MMM y", locale=locale),
            "year": str(r.month.year)
            if r.month.month == 1 or (i == 0 and r.month.month < 12)
            else "",
        }
        for i, r in enumerate(rates)
    ]


def _percent(share: float) -> str:
    return numbers.format_percent(share, locale=current_language())


def form_page(template: str, **context):
    """A form page: 200 when first shown, 422 when a sent form comes back with errors."""
    return render_template(template, **context), 422 if request.method == "POST" else 200
