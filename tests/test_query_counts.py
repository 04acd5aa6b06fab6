"""The pages that matter at scale send a small, fixed number of SQL queries: the same for a
cohort of 3 men as for one of 15, with more cohorts, cases and answers around them.

Each page is measured, the data grown, and the page measured again. The count covers the whole
request, signing in from the session cookie included."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from intervention.extensions import db
from intervention.models import (
    AttendanceStatus,
    Cohort,
    Court,
    CourtDocument,
    DocumentKind,
    Enrollment,
    Reflection,
    ReviewOutcome,
    Role,
    User,
)
from intervention.services import reflections as reflection_service

from .conftest import csrf_token
from .helpers import answer, mark, prompts_by_key, signed_in, stored_certificate, today
from .querycount import counting

MAX_QUERIES = 10
# Pages held only to the same count at both sizes: the facilitator's front page sums up every
# cohort of his, each with its own counts beside the records of its men.
FLAT_ONLY = {"facilitator home"}
# A cohort half-way through the fixture course: sessions 1 and 2 held, session 3 ahead.
RUNNING_START = today() - timedelta(days=8)
FINISHED_START = today() - timedelta(weeks=8)
MIN_WORDS = {
    "what-happened": 80,
    "the-person-on-the-other-side": 100,
    "my-excuses": 100,
    "what-i-was-looking-for": 60,
    "what-i-want-from-this": 50,
    "behind-the-mask": 50,
}


@pytest.fixture(autouse=True)
def _checkpoints_as_in_production(app):
    """A page pays for an audit checkpoint (one statement) at most every
    AUDIT_CHECKPOINT_SECONDS, not on each view: measure pages between two checkpoints, as
    production serves nearly all of them. The test's first checkpoint starts the interval."""
    app.config["AUDIT_CHECKPOINT_SECONDS"] = 3600
    yield
    app.config["AUDIT_CHECKPOINT_SECONDS"] = 0


@dataclass
class World:
    """The people whose pages are measured, and the court and cohort the data grows in, by
    id: each measured request starts from an empty session, which detaches loaded objects."""

    court_id: int
    facilitator_id: int
    clerk_id: int
    cohort_id: int
    man_id: int  # his enrollment
    draft_prompt_id: int
    completed_id: int  # a completed case with a certificate
    code: str


class Builder:
    """Adds men, cohorts and cases in the shapes the pages show, through the services."""

    def __init__(self, make_user, make_cohort, make_enrollment):
        self.make_user = make_user
        self.make_cohort = make_cohort
        self.make_enrollment = make_enrollment
        self.surnames = iter(range(1, 10_000))

    def man(self, cohort: Cohort, court: Court, *, waiting: bool = True) -> Enrollment:
        """A man whose held sessions are marked and whose answers to sessions 1 and 2 were
        reviewed: some accepted, some returned and sent again, and one waiting."""
        n = next(self.surnames)
        enrollment = self.make_enrollment(
            cohort=cohort,
            court=court,
            participant=self.make_user(name=f"Matthew Ortega{n:03d}"),
            case_number=f"KC-26-{n:06d}",
        )
        statuses = [AttendanceStatus.PRESENT, AttendanceStatus.LATE, AttendanceStatus.ABSENT]
        for i, session in enumerate(cohort.sessions):
            if session.scheduled_at < datetime.now(UTC):
                mark(enrollment, i + 1, statuses[(n + i) % len(statuses)])
        prompts = prompts_by_key(enrollment)
        self.reviewed(enrollment, prompts["what-happened"], [ReviewOutcome.ACCEPTED])
        self.reviewed(
            enrollment,
            prompts["the-person-on-the-other-side"],
            [ReviewOutcome.RETURNED, ReviewOutcome.ACCEPTED],
        )
        self.reviewed(enrollment, prompts["what-i-want-from-this"], [ReviewOutcome.RETURNED])
        if waiting:
            self.reviewed(enrollment, prompts["behind-the-mask"], [])
        return enrollment

    def reviewed(self, enrollment: Enrollment, prompt, outcomes: list[ReviewOutcome]):
        """Submit an answer, review it with each outcome in turn (resubmitting after a
        return), and leave the last attempt waiting when the outcomes run out."""
        reflection = reflection_service.reflection_for(enrollment, prompt)
        facilitator = enrollment.cohort.facilitators[0]
        for number in range(len(outcomes) + (0 if outcomes else 1)):
            attempt = reflection_service.submit(
                reflection,
                answer(f"Attempt{number}", MIN_WORDS[prompt.key]),
                reflection.draft_revision,
                enrollment.participant,
            )
            if number < len(outcomes):
                comment = "Say more." if outcomes[number] is ReviewOutcome.RETURNED else ""
                reflection_service.review(attempt, outcomes[number], comment, facilitator)

    def grow(self, world: World, men: int) -> None:
        """More men in his cohort, and as many again in a finished cohort of the same
        facilitator and court, one of them with a certificate."""
        court = db.session.get(Court, world.court_id)
        facilitator = db.session.get(User, world.facilitator_id)
        cohort = db.session.get(Cohort, world.cohort_id)
        for _ in range(men):
            self.man(cohort, court)
        finished = self.make_cohort(facilitator=facilitator, start=FINISHED_START)
        cases = [self.man(finished, court) for _ in range(men)]
        stored_certificate(cases[0], facilitator, f"GROWN{cases[0].id:011d}")
        overdue = CourtDocument(
            enrollment=cohort.enrollments[-1],
            kind=DocumentKind.NONCOMPLIANCE_NOTICE,
            rule="max_absences",
            reason="Too many absences.",
            due_on=datetime.now(UTC).date() - timedelta(days=3),
            created_at=datetime.now(UTC) - timedelta(days=10),
        )
        db.session.add(overdue)
        db.session.commit()


@pytest.fixture
def builder(make_user, make_cohort, make_enrollment):
    return Builder(make_user, make_cohort, make_enrollment)


@pytest.fixture
def world(builder, make_user, make_court, make_cohort):
    court = make_court("Kings County District Court")
    facilitator = make_user(Role.FACILITATOR)
    cohort = make_cohort(facilitator=facilitator, start=RUNNING_START)
    man = builder.man(cohort, court, waiting=False)
    draft_prompt = prompts_by_key(man)["behind-the-mask"]
    reflection = reflection_service.reflection_for(man, draft_prompt)
    reflection_service.save_draft(reflection, "A start", reflection.draft_revision, man.participant)
    finished = make_cohort(facilitator=facilitator, start=FINISHED_START)
    completed = builder.man(finished, court)
    cert = stored_certificate(completed, facilitator, "QC7K2M9P4T6W8X3Z")
    world = World(
        court_id=court.id,
        facilitator_id=facilitator.id,
        clerk_id=make_user(Role.CLERK, court=court).id,
        cohort_id=cohort.id,
        man_id=man.id,
        draft_prompt_id=draft_prompt.id,
        completed_id=completed.id,
        code=cert.verification_code,
    )
    builder.grow(world, 2)
    return world


def queries(client, method: str, url: str, **kwargs):
    """The response to one request and the statements it sent, with nothing cached from
    building the data: the request starts from an empty session, as in production, and the
    test's objects come back afterwards."""
    db.session.commit()
    kept = list(db.session.identity_map.values())
    db.session.expunge_all()
    with counting(db.engine) as log:
        response = client.open(url, method=method, **kwargs)
    db.session.expunge_all()
    db.session.add_all(kept)
    assert response.status_code == 200, (url, response.status_code)
    return response, log


def draft_revision(world: World) -> int:
    return db.session.scalar(
        db.select(Reflection.draft_revision).where(
            Reflection.enrollment_id == world.man_id,
            Reflection.prompt_id == world.draft_prompt_id,
        )
    )


PAGES = {
    "participant dashboard": ("man", lambda w, c: ("GET", "/me/", {})),
    "module page": ("man", lambda w, c: ("GET", "/me/modules/2", {})),
    "reflection page": ("man", lambda w, c: ("GET", f"/me/reflections/{w.draft_prompt_id}", {})),
    "reflection draft save": (
        "man",
        lambda w, c: (
            "POST",
            f"/me/reflections/{w.draft_prompt_id}/draft",
            {
                "data": {
                    "text": f"A longer start, revision {draft_revision(w)}",
                    "revision": str(draft_revision(w)),
                    "csrf_token": csrf_token(c, f"/me/reflections/{w.draft_prompt_id}"),
                },
                "headers": {"Accept": "application/json"},
            },
        ),
    ),
    "facilitator home": ("facilitator", lambda w, c: ("GET", "/facilitator/", {})),
    "review queue": ("facilitator", lambda w, c: ("GET", "/facilitator/reviews", {})),
    "review queue, accepted": (
        "facilitator",
        lambda w, c: ("GET", "/facilitator/reviews?state=accepted", {}),
    ),
    "cohort grid": ("facilitator", lambda w, c: ("GET", f"/facilitator/cohorts/{w.cohort_id}", {})),
    "clerk search": ("clerk", lambda w, c: ("GET", "/court/?q=ortega", {})),
    "clerk case": ("clerk", lambda w, c: ("GET", f"/court/cases/{w.completed_id}", {})),
    "verify by code": (
        None,
        lambda w, c: (
            "POST",
            "/verify",
            {"data": {"code": w.code, "csrf_token": csrf_token(c, "/verify")}},
        ),
    ),
    "verify link": (None, lambda w, c: ("GET", f"/verify/{w.code}", {})),
}


def client_for(app, world: World, who: str | None):
    """A client signed in as the man or the staff member the page is for; None: anonymous."""
    if who is None:
        return app.test_client()
    if who == "man":
        return signed_in(app, db.session.get(Enrollment, world.man_id).participant)
    return signed_in(app, db.session.get(User, getattr(world, f"{who}_id")))


@pytest.mark.parametrize("page", PAGES)
def test_a_page_sends_the_same_few_queries_however_much_data_there_is(app, world, builder, page):
    who, request_for = PAGES[page]
    client = client_for(app, world, who)
    method, url, kwargs = request_for(world, client)
    _response, small = queries(client, method, url, **kwargs)
    builder.grow(world, 12)
    method, url, kwargs = request_for(world, client)
    _response, large = queries(client, method, url, **kwargs)
    if page not in FLAT_ONLY:
        assert small.count <= MAX_QUERIES, f"{page}: {small.count} queries\n{small}"
    assert large.count == small.count, f"{page}: {small.count} then {large.count}\n{large}"
