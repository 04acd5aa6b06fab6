"""The plan of the scale data: courts, staff, cohorts and their sessions, drawn before any man
is written, so every man's history can point at them."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial

from ..models import (
    Cohort,
    Court,
    Meeting,
    Role,
    SessionStatus,
    User,
    cohort_facilitators,
)
from ..services.scheduling import avoid_holidays, local_to_utc, state_from_jurisdiction
from .bulk import Bulk

TOTP_SECRET = "SCALESTAFFTOTPKEYSCALESTAFFTOTPK"
COHORT_SIZE = (10, 14)
# Finished, running and upcoming cohorts in a 60/30/10 mix; the cycle starts with a running
# cohort so that even a tiny data set has men mid-course for the benchmarks.
PHASES = "RFFRFUFRFF"

# Courts as real programs see them: (name, jurisdiction, docket prefix, timezone).
COURTS = [
    ("King County District Court", "King County, Washington", "KCD", "America/Los_Angeles"),
    ("Multnomah County Circuit Court", "Multnomah County, Oregon", "MCC", "America/Los_Angeles"),
    ("Maricopa County Justice Courts", "Maricopa County, Arizona", "MJC", "America/Phoenix"),
    ("Denver County Court", "City and County of Denver, Colorado", "DEN", "America/Denver"),
    ("Cook County Circuit Court", "Cook County, Illinois", "CCC", "America/Chicago"),
    ("Harris County Criminal Courts", "Harris County, Texas", "HCC", "America/Chicago"),
    ("Fulton County State Court", "Fulton County, Georgia", "FUL", "America/New_York"),
    ("Boston Municipal Court", "Suffolk County, Massachusetts", "BMC", "America/New_York"),
    ("Anchorage District Court", "Third Judicial District, Alaska", "ANC", "America/Anchorage"),
    ("Honolulu District Court", "First Circuit, Hawaii", "HON", "Pacific/Honolulu"),
]
FIRST_NAMES = (
    "James Robert John Michael David William Richard Joseph Thomas Charles Christopher Daniel "
    "Matthew Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Timothy "
    "Ronald Jason Edward Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin "
    "Scott Brandon Benjamin Samuel Gregory Alexander Patrick Frank Raymond Jack Dennis Jerry "
    "Tyler Aaron Henry Adam Douglas Nathan Peter Zachary Kyle Walter Harold Jeremy Carl Keith "
    "Roger Gerald Ethan Arthur Terry Christian Sean Lawrence Austin Joe Noah Jesse Albert Bryan "
    "Billy Bruce Willie Jordan Dylan Alan Ralph Gabriel Roy Juan Wayne Eugene Logan Randy "
    "Louis Russell Vincent Philip Bobby Johnny Bradley Kwame Minh Wei Hiroshi Tariq Omar Dmitri"
).split()
SURNAMES = (
    "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore "
    "Martin Jackson Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright "
    "Scott Hill Green Adams Nelson Baker Hall Campbell Mitchell Carter Roberts Phillips Evans "
    "Turner Parker Collins Edwards Stewart Morris Murphy Cook Rogers Morgan Peterson Cooper "
    "Reed Bailey Bell Kelly Howard Ward Cox Richardson Wood Watson Brooks Bennett Gray James "
    "Hughes Price Sanders Myers Long Ross Foster Powell Jenkins Perry Russell Sullivan Fisher "
    "Henderson Coleman Simmons Patterson Jordan Reynolds Hamilton Graham Wallace Cole West "
    "Stone Hayes Gibson Ellis Ford Marshall Owens McDonald Harrison Kennedy Wells Alvarez "
    "Woods Mendoza Castillo Olson Webb Washington Tucker Freeman Burns Henry Vasquez Snyder "
    "Simpson Crawford Porter Mason Shaw Gordon Wagner Hunter Romero Hicks Dixon Hunt Palmer "
    "Robertson Black Holmes Stone Meyer Boyd Mills Warren Fox Rose Rice Moreno Schmidt Patel "
    "Ferguson Nichols Herrera Medina Ryan Fernandez Weaver Daniels Stephens Gardner Payne "
    "Kelley Dunn Pierce Arnold Tran Spencer Peters Hawkins Grant Hansen Castro Hoffman Hart "
    "Elliott Cunningham Knight Bradley Nguyen Osei Kowalski Novak Okafor Haddad Tanaka Kim"
).split()
SPANISH_FIRST = (
    "José Luis Carlos Juan Miguel Jorge Pedro Manuel Francisco Javier Alejandro Ricardo "
    "Fernando Roberto Eduardo Raúl Sergio Andrés Héctor Mario Arturo Rafael Óscar Enrique"
).split()
SPANISH_SURNAMES = (
    "García Rodríguez Martínez Hernández López González Pérez Sánchez Ramírez Torres Flores "
    "Rivera Gómez Díaz Reyes Morales Cruz Ortiz Gutiérrez Chávez Ramos Ruiz Vargas Jiménez"
).split()


@dataclass
class CourtPlan:
    id: int
    name: str
    prefix: str
    timezone: str
    state: str = ""
    clerk_id: int = 0
    next_case: int = 0
    cases: list[tuple[str, str, int]] = field(default_factory=list)  # name, docket, enrollment


@dataclass
class CohortPlan:
    id: int
    phase: str  # F finished, R running, U upcoming
    court: CourtPlan
    version: object
    start: date
    start_time: time
    held: int  # sessions already held
    facilitator_ids: list[int]
    session_ids: list[int] = field(default_factory=list)
    session_at: list[datetime] = field(default_factory=list)
    spanish: bool = False
    size: int = 0


def _cohort_sizes(n: int, rng: random.Random) -> list[int]:
    sizes: list[int] = []
    while sum(sizes) < n:
        sizes.append(rng.randint(*COHORT_SIZE))
    sizes[-1] -= sum(sizes) - n
    if len(sizes) > 1 and sizes[-1] < COHORT_SIZE[0] // 2:
        sizes[-2] += sizes.pop()
    return sizes


def _schedule(phase: str, modules: int, ordinal: int, rng: random.Random, today: date):
    """(start date, sessions held) for a cohort in this phase. Half the running cohorts are
    past the middle of the course, with the next module's reading already open."""
    if phase == "F":
        last = today - timedelta(days=rng.randint(8, 700 - 7 * modules))
        return last - timedelta(weeks=modules - 1), modules
    if phase == "U":
        return today + timedelta(days=rng.randint(2, 25)), 0
    middle = min(4, modules) - 1
    if ordinal % 2 == 0:
        held = middle + (ordinal // 2) % max(1, modules - middle)
    else:
        held = rng.randint(1, modules - 1)
    held = max(1, min(held, modules - 1))
    # At most four days ahead: the next module's reading (open six days before) is open in
    # every timezone, whatever the hour.
    next_session = today + timedelta(days=rng.randint(1, 4))
    return next_session - timedelta(weeks=held), held


def make_plan(
    n: int, rng: random.Random, bulk: Bulk, password_hash: str, now: datetime, versions: tuple
):
    """Courts, staff and cohorts with their sessions for n men, queued in `bulk`; returns the
    director's id, the courts, and the cohorts in the order they start. `versions` is the
    program's latest version and its Spanish edition's (or None)."""
    sizes = _cohort_sizes(n, rng)
    court_count = max(2, round(n / 500))
    facilitator_count = max(1, math.ceil(len(sizes) / 4))
    staff = partial(_add_staff, bulk, password_hash, now - timedelta(days=760))
    courts = _add_courts(bulk, court_count, rng)
    bulk.flush()  # the courts before the clerks bound to them
    admin_id = staff("admin@scale.test", "Dana Whitfield", Role.ADMIN)
    for i, court in enumerate(courts, 1):
        court.clerk_id = staff(f"clerk-{i}@scale.test", person_name(rng), Role.CLERK, court.id)
    facilitators = [
        staff(f"facilitator-{i}@scale.test", person_name(rng), Role.FACILITATOR)
        for i in range(1, facilitator_count + 1)
    ]
    cohorts = _plan_cohorts(sizes, versions, courts, facilitators, rng, now.date())
    cohorts.sort(key=lambda c: c.start)  # ids, and audit events, in rough time order
    for plan in cohorts:
        _add_cohort(bulk, plan, rng)
    bulk.flush()
    return admin_id, courts, cohorts


def _add_staff(bulk: Bulk, password_hash: str, created: datetime, email, name, role, court_id=None):
    return bulk.add(
        User.__table__,
        email=email,
        full_name=name,
        password_hash=password_hash,
        role=role,
        court_id=court_id,
        active=True,
        created_at=created,
        session_version=1,
        # Every staff account needs a second factor: one app key for the generated staff,
        # given in the manifest so the load test can sign them in.
        totp_secret=TOTP_SECRET,
        totp_enabled=True,
    )


def _add_courts(bulk: Bulk, count: int, rng: random.Random) -> list[CourtPlan]:
    """`count` courts from COURTS, in divisions once the list runs out."""
    courts = []
    for i in range(count):
        name, jurisdiction, prefix, tz = COURTS[i % len(COURTS)]
        if i >= len(COURTS):
            division = i // len(COURTS) + 1
            name, prefix = f"{name}, Division {division}", f"{prefix}{division}"
        court_id = bulk.add(
            Court.__table__,
            name=name,
            jurisdiction=jurisdiction,
            state=state_from_jurisdiction(jurisdiction),
            timezone=tz,
            notice_deadline_days=rng.choice([7, 7, 10, 14]),
        )
        courts.append(
            CourtPlan(
                court_id,
                name,
                prefix,
                tz,
                state=state_from_jurisdiction(jurisdiction),
                next_case=rng.randint(10000, 40000),
            )
        )
    return courts


def _plan_cohorts(sizes, versions, courts, facilitators, rng, today: date) -> list[CohortPlan]:
    """One cohort per size, in the PHASES cycle, every tenth in Spanish (when loaded); not yet
    written (id 0)."""
    english, spanish = versions
    cohorts: list[CohortPlan] = []
    ordinals: dict[str, int] = defaultdict(int)
    for i, size in enumerate(sizes):
        phase = PHASES[i % len(PHASES)]
        is_spanish = spanish is not None and i % 10 == 9
        version = spanish if is_spanish else english
        court = courts[(i * len(courts)) // len(sizes)]
        start, held = _schedule(phase, len(version.modules), ordinals[phase], rng, today)
        ordinals[phase] += 1
        # Facilitators take neighbouring cohorts, so each works mostly with one court.
        lead = facilitators[(i * len(facilitators)) // len(sizes)]
        team = [lead] + ([rng.choice(facilitators)] if rng.random() < 0.15 else [])
        cohorts.append(
            CohortPlan(
                id=0,
                phase=phase,
                court=court,
                version=version,
                start=start,
                start_time=rng.choice([time(18, 0), time(18, 30), time(10, 0)]),
                held=held,
                facilitator_ids=list(dict.fromkeys(team)),
                spanish=is_spanish,
                size=size,
            )
        )
    return cohorts


def _add_cohort(bulk: Bulk, plan: CohortPlan, rng: random.Random) -> None:
    season = ("Winter", "Spring", "Summer", "Fall")[(plan.start.month % 12) // 3]
    day = plan.start.strftime("%A")
    language = ", en español" if plan.spanish else ""
    plan.id = bulk.add(
        Cohort.__table__,
        name=f"{season} {plan.start.year}, {day} {plan.start_time:%H:%M}{language} "
        f"({plan.court.prefix})",
        version_id=plan.version.id,
        start_date=plan.start,
        weekday=plan.start.weekday(),
        start_time=plan.start_time,
        timezone=plan.court.timezone,
        location=f"Room {rng.randint(101, 420)}, {plan.court.name}",
        video_link="",
    )
    for user_id in plan.facilitator_ids:
        bulk.add(cohort_facilitators, cohort_id=plan.id, user_id=user_id)
    tz = plan.court.timezone
    times = [
        local_to_utc(plan.start + timedelta(weeks=i), plan.start_time, tz)
        for i in range(len(plan.version.modules))
    ]
    # A session on a public holiday of the court's state meets on the next free day, as the
    # cohort form offers (courts and men expect no class on Thanksgiving).
    times, _kept, _moved = avoid_holidays(times, plan.start_time, tz, [plan.court.state], "move")
    for i, (module, at) in enumerate(zip(plan.version.modules, times, strict=True)):
        held = i < plan.held
        plan.session_at.append(at)
        plan.session_ids.append(
            bulk.add(
                Meeting.__table__,
                cohort_id=plan.id,
                module_id=module.id,
                scheduled_at=at,
                status=SessionStatus.HELD if held else SessionStatus.SCHEDULED,
                cancel_reason="",
                reschedule_reason="",
            )
        )


def person_name(rng: random.Random, spanish: bool = False) -> str:
    if spanish:
        return f"{rng.choice(SPANISH_FIRST)} {rng.choice(SPANISH_SURNAMES)}"
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"


def makeup_index(cohorts: list[CohortPlan]) -> dict:
    index: dict[tuple[int, int], list] = defaultdict(list)
    for plan in cohorts:
        for i in range(plan.held):
            index[(plan.version.id, i)].append((plan.session_at[i], plan.session_ids[i], plan.id))
    for sessions in index.values():
        sessions.sort()
    return index
