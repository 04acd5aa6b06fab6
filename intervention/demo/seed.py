"""Demo data for trying the product: two courts, two cohorts, the demo accounts of DESIGN.md."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select

from ..extensions import db
from ..models import (
    AttendanceStatus,
    Cohort,
    Court,
    Enrollment,
    EnrollmentState,
    Meeting,
    Program,
    ReferralType,
    Role,
    User,
    utcnow,
)
from ..services import (
    attendance,
    certificates,
    documents,
    enrollments,
    notices,
    reflections,
    scheduling,
)
from ..services import provider as provider_service
from .guard import refuse_in_production, refuse_unless_empty

DEMO_PASSWORD = "demo-password"
# Demo staff accounts come with an authenticator app enrolled, all with this key (in the
# README), so anyone trying the demo can sign in with their own app. Demo data only.
DEMO_TOTP_SECRET = "HTQSMO5OOWEB5DB4PVCMQUGGO2XTXQPC"

ANSWERS = [
    "I was arrested on a weeknight after work. I told myself it was a small thing and that "
    "nobody was hurt. Writing this down, I see that I was only thinking about myself. I did not "
    "ask who she was, how old she was, or whether she wanted to be there. I told my wife I was "
    "working late. The lie was easy, and that scares me. I want to understand why I kept "
    "going back, and I want to stop for good. I know my choices have a cost for other people, "
    "and I have not looked at that cost honestly until now. This class is the first time I have "
    "said all of this out loud.",
    "When I think about the woman I paid, I realise I know nothing about her life. I assumed "
    "she chose it and that the money made it fair. The reading showed me that many women start "
    "when they are still girls, and that someone else often takes the money. She smiled because "
    "that was her job, not because she wanted me there. I do not like what that says about me. "
    "I want to remember that she is a person with a family and a future, and that my money kept "
    "the whole thing going. I will not buy sex again, and I will tell my son why.",
]


TUESDAY, THURSDAY = 1, 3


def _next_weekday(day: date, weekday: int) -> date:
    """The first date on or after `day` that falls on `weekday` (0 = Monday)."""
    return day + timedelta(days=(weekday - day.weekday()) % 7)


class DemoRefused(Exception):
    pass


def _user(email: str, name: str, role: Role, court: Court | None = None) -> User:
    user = User(email=email, full_name=name, role=role, court=court)
    user.set_password(DEMO_PASSWORD if email.endswith("@demo.test") else secrets.token_urlsafe(24))
    if role.is_staff:
        user.totp_secret, user.totp_enabled = DEMO_TOTP_SECRET, True
    db.session.add(user)
    return user


def _cohort(name: str, version, facilitator: User, start: date, court: Court) -> Cohort:
    cohort = Cohort(
        name=name,
        version=version,
        start_date=start,
        weekday=start.weekday(),
        start_time=time(18, 30),
        timezone=court.timezone,
        location="Room 204, 401 Fifth Avenue, Seattle",
        facilitators=[facilitator],
    )
    db.session.add(cohort)
    tz = ZoneInfo(court.timezone)
    times = [
        datetime.combine(start + timedelta(weeks=i), cohort.start_time, tzinfo=tz).astimezone(UTC)
        for i in range(len(version.modules))
    ]
    # Like a director answering the form's warning: a session on one of the court's public
    # holidays (Thanksgiving for the fall cohort) meets on the next free day instead.
    times, _kept, _moved = scheduling.avoid_holidays(
        times, cohort.start_time, court.timezone, [court.state], "move"
    )
    for module, when in zip(version.modules, times, strict=True):
        db.session.add(Meeting(cohort=cohort, module=module, scheduled_at=when))
    db.session.flush()
    return cohort


# The agency the demo program is: a realistic letterhead, so its documents look like a court's.
DEMO_PROVIDER = {
    "legal_name": "Northwest Accountability Programs",
    "address": "1420 Fourth Avenue, Suite 300\nSeattle, WA 98101",
    "phone": "(206) 555-0142",
    "email": "court-reports@nwap.example",
    "license_number": "WA-DSHS-IP-2291",
    "director_name": "Dana Whitfield",
    "director_title": "Program Director",
}
DEMO_LOGO = b"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64">
<title>Northwest Accountability Programs</title>
<rect width="64" height="64" rx="8" fill="#1f2a36"/>
<path d="M12 46 L26 18 L34 34 L40 24 L52 46 Z" fill="#e8eef3"/>
<path d="M12 50 H52" stroke="#9fb4c7" stroke-width="3"/>
</svg>"""
# The referral's parties by court: whom each court's documents address and copy.
DEMO_PARTIES = {
    "King County District Court": {
        "court_department": "Seattle Courthouse, Judge E. Moreno",
        "prosecutor": "King County Prosecuting Attorney's Office, DPA L. Chen",
        "defense_attorney": "King County Department of Public Defense, M. Okafor",
        "probation_officer": "King County Probation, PO D. Hale",
    },
    "Seattle Municipal Court": {
        "court_department": "Courtroom 1003, Judge S. Patel",
        "prosecutor": "Seattle City Attorney's Office, ACA R. Singh",
        "defense_attorney": "Northwest Defenders Division, T. Alvarez",
        "probation_officer": "",
    },
}


def _enroll(participant, cohort, court, case_number, referral_type, staff) -> Enrollment:
    # A date of birth and booking number per case, fixed so the demo reads the same each time.
    seed = sum(case_number.encode())
    enrollment = Enrollment(
        participant=participant,
        cohort=cohort,
        court=court,
        case_number=case_number,
        referral_type=referral_type,
        referral_date=cohort.start_date - timedelta(days=12),
        completion_deadline=cohort.start_date + timedelta(days=120),
        starts_on=cohort.start_date,
        date_of_birth=date(1962 + seed % 35, 1 + seed % 12, 1 + seed % 28),
        court_person_number=f"BK-{seed * 7919 % 10_000_000:07d}",
        **DEMO_PARTIES.get(court.name, {}),
    )
    db.session.add(enrollment)
    db.session.flush()
    enrollments.transition(enrollment, EnrollmentState.ACTIVE, staff, "Intake completed.")
    return enrollment


def _answer(enrollment, prompt, author, text: str):
    reflection = reflections.reflection_for(enrollment, prompt)
    words = text.split()
    while len(words) < prompt.min_words:
        words += text.split()
    return reflections.submit(reflection, " ".join(words), reflection.draft_revision, author)


@dataclass
class _People:
    """The demo's accounts that the rest of the seed refers to."""

    admin: User
    facilitator: User
    mid: User  # James Carter, partway through the fall cohort
    done: User  # Robert Nguyen, finished in the summer
    others: list[User]  # the rest of the men, in both cohorts


@dataclass
class _Cases:
    done: Enrollment
    summer_other: Enrollment
    mid: Enrollment
    fall: list[Enrollment]  # the fall cohort's cases, his first


def seed() -> str:
    _refuse_unless_empty()
    version = _english_version()
    modules = version.modules
    king, muni = _courts()
    people = _people(king, muni)

    today = utcnow().date()
    # Summer cohort: finished. Fall cohort: about two thirds of the way through.
    summer = _cohort(
        "Summer 2026, Tuesday evening",
        version,
        people.facilitator,
        _next_weekday(today, TUESDAY) - timedelta(weeks=len(modules) + 6),
        king,
    )
    held = max(1, len(modules) * 2 // 3)
    fall = _cohort(
        "Fall 2026, Thursday evening",
        version,
        people.facilitator,
        # The next Thursday is session held+1: that many sessions are already behind them.
        _next_weekday(today, THURSDAY) - timedelta(weeks=held),
        king,
    )
    cases = _cases(people, summer, fall, king, muni)
    _attendance(summer, fall, held, cases, people.facilitator)
    _reflections(modules, cases, people)
    cohorts = 2 + _spanish_cohort(king, people.facilitator, people.admin, today)
    db.session.flush()
    _backdate_answers()
    _documents(cases, people.facilitator)
    return (
        f"Demo data added: 2 courts, {cohorts} cohorts, "
        f"{db.session.scalar(select(func.count(Enrollment.id)))} cases, "
        f"1 certificate. Sign in as participant@demo.test (or admin@, facilitator@, "
        f"clerk@, participant2@demo.test) with password '{DEMO_PASSWORD}'; staff accounts "
        f"then ask for a code from an authenticator app with the key {DEMO_TOTP_SECRET}."
    )


def _refuse_unless_empty() -> None:
    refuse_in_production(DemoRefused, "demo data")
    refuse_unless_empty(DemoRefused, "demo data")


def _english_version():
    """The English program's latest version, loading the curricula first if none is."""
    english = select(Program).where(Program.language == "en").order_by(Program.id)
    program = db.session.scalar(english)
    if program is None:
        from ..curriculum.sync import sync_curricula

        sync_curricula(Path(current_app.config["CURRICULA_PATH"]))
        program = db.session.scalar(english)
        if program is None:
            raise DemoRefused(
                "no curriculum could be loaded; run 'flask --app intervention "
                "curriculum check' to see why."
            )
    return program.latest_version


def _courts() -> tuple[Court, Court]:
    king = Court(
        name="King County District Court",
        jurisdiction="King County, Washington",
        state="WA",
        timezone="America/Los_Angeles",
        notice_deadline_days=7,
    )
    muni = Court(
        name="Seattle Municipal Court",
        jurisdiction="City of Seattle, Washington",
        state="WA",
        timezone="America/Los_Angeles",
        notice_deadline_days=10,
    )
    db.session.add_all([king, muni])
    return king, muni


def _people(king: Court, muni: Court) -> _People:
    """The demo accounts, and the provider the director set up before anyone else."""
    admin = _user("admin@demo.test", "Dana Whitfield", Role.ADMIN)
    db.session.flush()
    provider_service.save(actor=admin, logo=DEMO_LOGO, **DEMO_PROVIDER)
    facilitator = _user("facilitator@demo.test", "Marcus Hale", Role.FACILITATOR)
    _user("clerk@demo.test", "Rosa Delgado", Role.CLERK, court=king)
    _user("clerk.municipal@demo.test", "Alan Brooks", Role.CLERK, court=muni)
    mid = _user("participant@demo.test", "James Carter", Role.PARTICIPANT)
    done = _user("participant2@demo.test", "Robert Nguyen", Role.PARTICIPANT)
    others = [
        _user(f"{slug}@participants.demo.test", name, Role.PARTICIPANT)
        for slug, name in [
            ("d.miller", "David Miller"),
            ("k.osei", "Kwame Osei"),
            ("l.garcia", "Luis Garcia"),
            ("t.brennan", "Thomas Brennan"),
            ("s.park", "Steven Park"),
        ]
    ]
    db.session.flush()
    return _People(admin, facilitator, mid, done, others)


def _cases(people: _People, summer: Cohort, fall: Cohort, king: Court, muni: Court) -> _Cases:
    rt, admin, others = ReferralType, people.admin, people.others
    done_case = _enroll(people.done, summer, king, "KC-26-104417", rt.DEFERRED_PROSECUTION, admin)
    summer_other = _enroll(others[4], summer, muni, "SMC-26-55812", rt.PRE_FILING, admin)
    mid_case = _enroll(people.mid, fall, king, "KC-26-118204", rt.PRE_FILING, admin)
    fall_cases = [mid_case] + [
        _enroll(p, fall, court, number, kind, admin)
        for p, court, number, kind in [
            (others[0], king, "KC-26-118390", rt.DEFERRED_PROSECUTION),
            (others[1], king, "KC-26-119021", rt.PROBATION_CONDITION),
            (others[2], muni, "SMC-26-60114", rt.PRE_FILING),
            (others[3], king, "KC-26-119877", rt.PRE_FILING),
        ]
    ]
    return _Cases(done_case, summer_other, mid_case, fall_cases)


def _attendance(summer: Cohort, fall: Cohort, held: int, cases: _Cases, facilitator: User):
    """The summer men at every session; the fall men at the sessions held so far, with one
    late and one who has missed two in a row."""
    full = lambda s: s.module.duration_minutes  # noqa: E731
    for session in summer.sessions:
        attendance.mark(session, cases.done, AttendanceStatus.PRESENT, full(session), facilitator)
        attendance.mark(
            session, cases.summer_other, AttendanceStatus.PRESENT, full(session), facilitator
        )
    for index, session in enumerate(fall.sessions[:held]):
        for n, case in enumerate(cases.fall):
            status = AttendanceStatus.PRESENT
            if n == 3 and index >= held - 2:
                status = AttendanceStatus.ABSENT  # Luis has missed two in a row: cannot finish
            if n == 2 and index == 0:
                status = AttendanceStatus.LATE
            minutes = (
                0
                if status is AttendanceStatus.ABSENT
                else full(session) - (20 if status is AttendanceStatus.LATE else 0)
            )
            attendance.mark(session, case, status, minutes, facilitator)


def _reflections(modules, cases: _Cases, people: _People) -> None:
    """Every answer of the summer men accepted; the man partway through has his first
    module's accepted and one waiting for review; another man has one returned."""
    facilitator = people.facilitator
    for i, module in enumerate(modules):
        for prompt in module.prompts:
            for case, author in ((cases.done, people.done), (cases.summer_other, people.others[4])):
                attempt = _answer(case, prompt, author, ANSWERS[i % 2])
                reflections.review(
                    attempt,
                    reflections.ReviewOutcome.ACCEPTED,
                    "Honest and specific. Thank you.",
                    facilitator,
                )

    first, second = modules[0], modules[min(1, len(modules) - 1)]
    for prompt in first.prompts:
        attempt = _answer(cases.mid, prompt, people.mid, ANSWERS[0])
        reflections.review(
            attempt,
            reflections.ReviewOutcome.ACCEPTED,
            "Thank you for being so direct about the lie at home.",
            facilitator,
        )
    _answer(cases.mid, second.prompts[0], people.mid, ANSWERS[1])  # waiting for review
    returned = _answer(cases.fall[1], first.prompts[0], people.others[0], ANSWERS[0])
    reflections.review(
        returned,
        reflections.ReviewOutcome.RETURNED,
        "You describe the day, but not your choices. What did you decide, "
        "and when? Please add that.",
        facilitator,
    )


def _documents(cases: _Cases, facilitator: User) -> None:
    """The certificate, the notices and the progress report the program would have made."""
    # Issued once his answers carry their real dates, so the certificate says the day he
    # finished (his last review, in the summer), not the day the demo was seeded.
    certificates.issue(cases.done, facilitator)
    # What the roster would have done as attendance was taken: draft notices for breaches.
    for enrollment in db.session.scalars(select(Enrollment)):
        if enrollment.state.is_open:
            notices.draft_for(enrollment, facilitator)
    # The prosecutor asked how the man partway through is doing: a signed progress report.
    documents.progress_report(cases.mid, facilitator)


def _spanish_cohort(court: Court, facilitator: User, admin: User, today: date) -> int:
    """A small Spanish-language cohort, when the Spanish edition is loaded; returns 1 or 0."""
    program = db.session.scalar(select(Program).where(Program.language == "es"))
    if program is None:
        return 0
    version = program.latest_version
    cohort = _cohort(
        "Otoño 2026, grupo en español (martes)",
        version,
        facilitator,
        _next_weekday(today, TUESDAY) - timedelta(weeks=2),
        court,
    )
    carlos = _user("participante@demo.test", "Carlos Ramírez", Role.PARTICIPANT)
    carlos.locale = "es"  # he reads the site in Spanish, as he chose on his account page
    db.session.flush()
    case = _enroll(carlos, cohort, court, "KC-26-120533", ReferralType.PRE_FILING, admin)
    for session in cohort.sessions[:2]:
        attendance.mark(
            session, case, AttendanceStatus.PRESENT, session.module.duration_minutes, facilitator
        )
    _answer(
        case,
        version.modules[0].prompts[0],
        carlos,
        "Me arrestaron un viernes por la noche. Yo pensaba que no hacía daño a nadie. "
        "Ahora veo que sólo pensaba en mí. No pregunté quién era ella ni cuántos años "
        "tenía. Le mentí a mi esposa. Quiero entender por qué lo hice y no volver a "
        "hacerlo nunca.",
    )
    return 1


def _backdate_answers() -> None:
    """Demo answers were all written just now; date them two days after their session (and
    reviews a day later) so the pages show a believable history, not every answer late."""
    from ..models import ReflectionAttempt
    from ..services.curriculum import session_for

    now = utcnow()
    for attempt in db.session.scalars(select(ReflectionAttempt)):
        reflection = attempt.reflection
        session = session_for(reflection.enrollment.cohort, reflection.prompt.module)
        if session is None:
            continue
        when = min(now, session.scheduled_at + timedelta(days=2))
        attempt.submitted_at = when
        reflection.draft_saved_at = when
        if attempt.review is not None:
            attempt.review.created_at = min(now, when + timedelta(days=1))
