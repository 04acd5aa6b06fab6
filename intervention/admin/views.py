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

from ..access import guard_blueprint
from ..i18n import current_language
from ..models import (
    Role,
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
    glance = stats.overview(OVERVIEW_ROWS)
    chain = verify_chain(last=PAGE_CHECK_EVENTS)
    overdue = notice_service.overdue()
    return render_template(
        "admin/home.html",
        counts=glance.cases_by_state,
        court_count=glance.courts,
        cohort_count=glance.cohorts,
        recent_cohorts=glance.recent_cohorts,
        staff_counts=glance.staff_by_role,
        certificates=glance.recent_certificates,
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
