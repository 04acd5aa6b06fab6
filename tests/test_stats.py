"""The director's chart: completion and non-compliance rates per month, computed right for known
cases on known months, and drawn on the dashboard with the same figures in a table."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from intervention.extensions import db
from intervention.models import (
    CourtDocument,
    DocumentKind,
    Enrollment,
    EnrollmentState,
    EnrollmentTransition,
    ReferralType,
    Role,
)
from intervention.services import stats

from .conftest import login
from .helpers import text_of
from .querycount import counting

NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)


def at(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 12, tzinfo=UTC)


@pytest.fixture
def history(make_user, make_court, make_cohort):
    """Five cases: A completes in March, B (noticed twice in February) is terminated in March,
    C completes in April, D came and went before the chart's year, E is still open (noticed in
    March)."""
    court, cohort, admin = make_court(), make_cohort(), make_user(Role.ADMIN)

    def case(name: str, created: datetime, closed: tuple[EnrollmentState, datetime] | None):
        enrollment = Enrollment(
            participant=make_user(name=name),
            cohort=cohort,
            court=court,
            case_number=f"ST-{name}",
            referral_type=ReferralType.PRE_FILING,
            referral_date=created.date(),
            starts_on=created.date(),
            created_at=created,
            state=closed[0] if closed else EnrollmentState.ACTIVE,
        )
        db.session.add(enrollment)
        moves = [(None, EnrollmentState.ACTIVE, created)]
        if closed:
            moves.append((EnrollmentState.ACTIVE, *closed))
        for before, after, when in moves:
            db.session.add(
                EnrollmentTransition(
                    enrollment=enrollment,
                    from_state=before,
                    to_state=after,
                    actor=admin,
                    reason="Test.",
                    at=when,
                )
            )
        return enrollment

    def notice(enrollment: Enrollment, created: datetime) -> None:
        db.session.add(
            CourtDocument(
                enrollment=enrollment,
                kind=DocumentKind.NONCOMPLIANCE_NOTICE,
                reason="Missed sessions.",
                created_at=created,
            )
        )

    case("A", at(2026, 1, 10), (EnrollmentState.COMPLETED, at(2026, 3, 5)))
    b = case("B", at(2026, 1, 20), (EnrollmentState.TERMINATED, at(2026, 3, 20)))
    case("C", at(2026, 2, 1), (EnrollmentState.COMPLETED, at(2026, 4, 2)))
    case("D", at(2025, 1, 1), (EnrollmentState.WITHDRAWN, at(2025, 3, 1)))
    e = case("E", at(2025, 5, 1), None)
    notice(b, at(2026, 2, 10))
    notice(b, at(2026, 2, 12))  # one case noticed twice in a month counts once
    notice(e, at(2026, 3, 3))
    # Another kind of document is not a notice of non-compliance.
    db.session.add(
        CourtDocument(enrollment=e, kind=DocumentKind.PROGRESS_REPORT, created_at=at(2026, 4, 9))
    )
    db.session.flush()


def by_month(rates: list[stats.MonthRates]) -> dict[str, stats.MonthRates]:
    return {f"{r.month:%Y-%m}": r for r in rates}


def test_the_last_twelve_months_end_with_this_one():
    months = stats.last_months(date(2026, 2, 28))
    assert months[0] == date(2025, 3, 1) and months[-1] == date(2026, 2, 1)
    assert len(months) == 12


def test_completion_rate_is_the_share_of_the_months_closed_cases_that_completed(history):
    months = by_month(stats.monthly_rates(NOW))
    assert len(months) == 12 and min(months) == "2025-07" and max(months) == "2026-06"
    march, april = months["2026-03"], months["2026-04"]
    assert (march.completed, march.closed, march.completion_rate) == (1, 2, 0.5)
    assert (april.completed, april.closed, april.completion_rate) == (1, 1, 1.0)
    # No case closed in February, nor in the months before: no rate, and no division by zero.
    assert months["2026-02"].closed == 0 and months["2026-02"].completion_rate is None
    assert months["2025-07"].completion_rate is None


def test_noncompliance_rate_is_the_share_of_the_months_open_cases_noticed(history):
    months = by_month(stats.monthly_rates(NOW))
    # Only E is open through 2025 (D closed before the chart's first month).
    assert (months["2025-07"].open, months["2025-07"].noncompliance_rate) == (1, 0.0)
    assert months["2026-01"].open == 3  # E, A, B
    february = months["2026-02"]
    assert (february.with_notice, february.open, february.noncompliance_rate) == (1, 4, 0.25)
    march = months["2026-03"]  # A and B close in March, so were open in it
    assert (march.with_notice, march.open, march.noncompliance_rate) == (1, 4, 0.25)
    assert (months["2026-04"].open, months["2026-04"].noncompliance_rate) == (2, 0.0)
    assert months["2026-06"].open == 1


def test_months_without_any_case_have_no_rates():
    rates = stats.monthly_rates(NOW)
    assert all(r.completion_rate is None and r.noncompliance_rate is None for r in rates)


def test_the_rates_take_three_grouped_queries_however_many_cases(history):
    with counting(db.engine) as few:
        stats.monthly_rates(NOW)
    assert few.count == 3


def table_rows(html: str) -> dict[str, str]:
    """The chart's table: each month's row text, by the month's name."""
    table = html.split('<details class="chart-figures">', 1)[1].split("</details>", 1)[0]
    rows = re.findall(r'<th scope="row">([^<]+)</th>(.*?)</tr>', table, re.S)
    return {month: " ".join(re.sub(r"<[^>]+>", " ", cells).split()) for month, cells in rows}


def test_the_dashboard_draws_the_chart_with_its_figures(client, make_user, history, monkeypatch):
    monkeypatch.setattr(stats, "utcnow", lambda: NOW)
    login(client, make_user(Role.ADMIN))
    html = text_of(client.get("/admin/"))
    assert '<svg role="img" aria-labelledby="rates-title rates-desc"' in html
    assert '<title id="rates-title">Completion and non-compliance rates by month</title>' in html
    assert "style=" not in html.split("<svg", 1)[1].split("</svg>", 1)[0]  # CSP: no inline style
    rows = table_rows(html)
    assert list(rows)[0] == "Jul 2025" and list(rows)[-1] == "Jun 2026"
    assert rows["Mar 2026"] == "50% (1 of 2 closed) 25% (1 of 4 open)"
    assert rows["Apr 2026"] == "100% (1 of 1 closed) 0% (0 of 2 open)"
    assert rows["Jul 2025"] == "No case closed 0% (0 of 1 open)"


def test_the_chart_speaks_spanish(client, make_user, history, monkeypatch):
    monkeypatch.setattr(stats, "utcnow", lambda: NOW)
    director = make_user(Role.ADMIN)
    director.locale = "es"
    db.session.flush()
    login(client, director)
    html = text_of(client.get("/admin/"))
    rows = table_rows(html)
    assert list(rows)[-1] == "jun 2026"
    assert rows["mar 2026"].startswith("50 %")  # babel: a no-break space before %
    assert "Tasa de finalización" in html
