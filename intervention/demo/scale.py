"""Scale data for benchmarks: N participants with the history a busy program would have.

Rows go in with bulk Core inserts (lists of dicts, a batch at a time), never ORM objects one
by one, so 50,000 men take minutes rather than hours. The shapes follow the services exactly:
marks with their change history, frozen attempts with reviews, state transitions, and audit
events chained and sealed with the audit service's own keyed digest, then anchored by a
checkpoint, so `audit verify` passes. Only the certificates go through the real service,
because a certificate is its rendered PDF.
"""

from __future__ import annotations

import json
import math
import random
import time as clock
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import bindparam, func, insert, select, text, update
from werkzeug.security import generate_password_hash

from ..extensions import db
from ..models import (
    Attendance,
    AttendanceChange,
    AttendanceStatus,
    AuditEvent,
    Certificate,
    Cohort,
    Court,
    Enrollment,
    EnrollmentState,
    EnrollmentTransition,
    Program,
    ReferralType,
    Reflection,
    ReflectionAttempt,
    ReflectionState,
    Review,
    ReviewOutcome,
    Role,
    Session,
    SessionStatus,
    User,
    cohort_facilitators,
    utcnow,
)
from ..services import audit, certificates
from ..services.reflections import count_words
from ..services.scheduling import avoid_holidays, local_to_utc, state_from_jurisdiction
from .seed import ANSWERS

PASSWORD = "scale-password"
TOTP_SECRET = "SCALESTAFFTOTPKEYSCALESTAFFTOTPK"
PROGRAM_SLUG = "accountability-and-change"
BATCH = 5000
# Rows per commit: fewer, larger transactions rewrite the same index pages less often.
COMMIT_ROWS = 100_000
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
SPANISH_ANSWER = (
    "Me arrestaron un viernes por la noche. Yo pensaba que no hacía daño a nadie. Ahora veo "
    "que sólo pensaba en mí. No pregunté quién era ella ni cuántos años tenía. Le mentí a mi "
    "esposa. Quiero entender por qué lo hice y no volver a hacerlo nunca. Sé que mis "
    "decisiones tienen un costo para otras personas y quiero mirarlo con honestidad."
)
RETURN_COMMENTS = [
    "You describe the day, but not your choices. What did you decide, and when? Please add that.",
    "Please write about your own part, not about what other people did.",
    "This is a start. Say more about who was affected and how.",
]
ACCEPT_COMMENTS = [
    "Honest and specific. Thank you.",
    "Thank you for being so direct.",
    "Good work; bring this to the group next week.",
    "",
]
REFERRAL_WEIGHTS = [
    (ReferralType.PRE_FILING, 45),
    (ReferralType.DEFERRED_PROSECUTION, 30),
    (ReferralType.PROBATION_CONDITION, 20),
    (ReferralType.SELF_REFERRAL, 5),
]
# Order of the tables for a flush: every row's parents go in before it.
TABLES = [
    User.__table__,
    Court.__table__,
    Cohort.__table__,
    cohort_facilitators,
    Session.__table__,
    Enrollment.__table__,
    EnrollmentTransition.__table__,
    Attendance.__table__,
    AttendanceChange.__table__,
    Reflection.__table__,
    ReflectionAttempt.__table__,
    Review.__table__,
    AuditEvent.__table__,
]


class ScaleRefused(Exception):
    pass


@dataclass
class Summary:
    counts: dict[str, int]
    seconds: float
    manifest: dict


# --- bulk writing -------------------------------------------------------------------------------


class Bulk:
    """Rows waiting for insert, per table, with ids handed out here so children can point at
    their parents before anything is written. Flushed in parent-first order."""

    def __init__(self):
        self.pending: dict[str, list[dict]] = defaultdict(list)
        self.next_id: dict[str, int] = {}
        self.links: list[dict] = []  # make-up marks pointing at each other, set after insert
        self.uncommitted = 0
        for table in TABLES:
            if "id" in table.c:
                last = db.session.scalar(select(func.max(table.c.id)))
                self.next_id[table.name] = (last or 0) + 1

    def add(self, table, **row) -> int | None:
        if table.name in self.next_id:
            row["id"] = self.next_id[table.name]
            self.next_id[table.name] += 1
        rows = self.pending[table.name]
        rows.append(row)
        if len(rows) >= BATCH:
            self.flush()
        return row.get("id")

    def flush(self, *, commit: bool = False) -> None:
        for table in TABLES:
            rows = self.pending.pop(table.name, None)
            if rows:
                db.session.execute(insert(table), rows)
                self.uncommitted += len(rows)
        if self.links:
            table = Attendance.__table__
            db.session.execute(
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values(linked_attendance_id=bindparam("b_link")),
                self.links,
            )
            self.links = []
        if commit or self.uncommitted >= COMMIT_ROWS:
            db.session.commit()
            self.uncommitted = 0

    def fix_sequences(self) -> None:
        """On PostgreSQL the ids given here bypassed the sequences; move them past the rows."""
        if db.session.get_bind().dialect.name != "postgresql":
            return
        for table in TABLES:
            if "id" in table.c:
                # Table names from the app's own metadata, never from input.
                db.session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # nosec B608
                        f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table.name}), false)"
                    )
                )
        db.session.commit()


class Chain:
    """Audit events in the order they are given, each hashed over the one before, with the
    audit service's own digest so the chain verifies like any other."""

    def __init__(self, bulk: Bulk):
        self.bulk = bulk
        self.prev = (
            db.session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
            or audit.GENESIS
        )

    def write(self, events: list[dict]) -> None:
        for event in sorted(events, key=lambda e: e["at"]):
            event.setdefault("ip_address", "")
            event["prev_hash"] = self.prev
            event["hash"] = self.prev = audit.digest(SimpleNamespace(**event))
            self.bulk.add(AuditEvent.__table__, **event)


def event(at, actor_id, action, object_type="", object_id=None, **details) -> dict:
    return {
        "at": at,
        "actor_id": actor_id,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "details": details,
    }


# --- the plan: courts, staff, cohorts and their sessions -----------------------------------------


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


def _versions() -> tuple[object, object | None]:
    english = db.session.scalar(select(Program).where(Program.slug == PROGRAM_SLUG))
    if english is None or english.latest_version is None:
        raise ScaleRefused(
            f"the program '{PROGRAM_SLUG}' is not loaded; run 'flask --app intervention "
            "curriculum sync' first."
        )
    spanish = db.session.scalar(select(Program).where(Program.slug == f"{PROGRAM_SLUG}-es"))
    return english.latest_version, spanish.latest_version if spanish else None


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


def _plan(n: int, rng: random.Random, bulk: Bulk, password_hash: str, now: datetime):
    english, spanish = _versions()
    sizes = _cohort_sizes(n, rng)
    court_count = max(2, round(n / 500))
    facilitator_count = max(1, math.ceil(len(sizes) / 4))
    created = now - timedelta(days=760)

    def staff(email, name, role, court_id=None):
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

    courts = []
    for i in range(court_count):
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
    bulk.flush()  # the courts before the clerks bound to them
    admin_id = staff("admin@scale.test", "Dana Whitfield", Role.ADMIN)
    for i, court in enumerate(courts, 1):
        court.clerk_id = staff(f"clerk-{i}@scale.test", _name(rng), Role.CLERK, court.id)
    facilitators = [
        staff(f"facilitator-{i}@scale.test", _name(rng), Role.FACILITATOR)
        for i in range(1, facilitator_count + 1)
    ]

    today = now.date()
    cohorts: list[CohortPlan] = []
    ordinals: dict[str, int] = defaultdict(int)
    for i, size in enumerate(sizes):
        phase = PHASES[i % len(PHASES)]
        is_spanish = spanish is not None and i % 10 == 9
        version = spanish if is_spanish else english
        court = courts[(i * court_count) // len(sizes)]
        start, held = _schedule(phase, len(version.modules), ordinals[phase], rng, today)
        ordinals[phase] += 1
        # Facilitators take neighbouring cohorts, so each works mostly with one court.
        lead = facilitators[(i * facilitator_count) // len(sizes)]
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
    cohorts.sort(key=lambda c: c.start)  # ids, and audit events, in rough time order
    for plan in cohorts:
        _add_cohort(bulk, plan, rng)
    bulk.flush()
    return admin_id, courts, cohorts


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
                Session.__table__,
                cohort_id=plan.id,
                module_id=module.id,
                scheduled_at=at,
                status=SessionStatus.HELD if held else SessionStatus.SCHEDULED,
                cancel_reason="",
                reschedule_reason="",
            )
        )


def _name(rng: random.Random, spanish: bool = False) -> str:
    if spanish:
        return f"{rng.choice(SPANISH_FIRST)} {rng.choice(SPANISH_SURNAMES)}"
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"


# --- the men: enrollments, marks, reflections ----------------------------------------------------


class Writer:
    """Writes one cohort's men and everything that happened to them, in bulk."""

    def __init__(self, bulk, chain, rng, password_hash, now, makeup_index, admin_id):
        self.bulk, self.chain, self.rng = bulk, chain, rng
        self.password_hash, self.now = password_hash, now
        self.makeup_index = makeup_index  # (version id, module index) -> [(at, session, cohort)]
        self.admin_id = admin_id  # the program director enrolls the men the courts refer
        self.participants = 0
        self.texts: dict[tuple[bool, int, int], tuple[str, int]] = {}
        self.complete: list[int] = []  # enrollment ids of completed men, awaiting certificate
        self.drafting: list[dict] = []  # candidates for the manifest's participants

    def cohort(self, plan: CohortPlan) -> None:
        events: list[dict] = []
        for _ in range(plan.size):
            self.man(plan, events)
        for at in plan.session_at[: plan.held]:  # staff sign in to take attendance
            for user_id in plan.facilitator_ids:
                signed_in = at - timedelta(minutes=20)
                events.append(event(signed_in, user_id, "auth.login", "user", user_id))
        self.chain.write(events)

    def man(self, plan: CohortPlan, events: list[dict]) -> None:
        rng, bulk = self.rng, self.bulk
        self.participants += 1
        n = self.participants
        name = _name(rng, plan.spanish)
        referred = min(plan.start - timedelta(days=rng.randint(7, 30)), self.now.date())
        referred_at = local_to_utc(
            referred, time(rng.randint(9, 16), rng.randint(0, 59)), plan.court.timezone
        )
        referred_at = min(referred_at, self.now - timedelta(hours=1))
        user_id = bulk.add(
            User.__table__,
            email=f"participant-{n}@scale.test",
            full_name=name,
            password_hash=self.password_hash,
            role=Role.PARTICIPANT,
            court_id=None,
            active=True,
            created_at=referred_at,
            session_version=1,
            totp_enabled=False,
        )
        court = plan.court
        court.next_case += rng.randint(1, 9)
        docket = f"{court.prefix}-{referred:%y}-{court.next_case:06d}"
        kind = rng.choices([k for k, _ in REFERRAL_WEIGHTS], [w for _, w in REFERRAL_WEIGHTS])[0]
        fate = self.fate(plan)
        state = {
            "referred": EnrollmentState.REFERRED,
            "terminated": EnrollmentState.TERMINATED,
        }.get(fate, EnrollmentState.ACTIVE)
        enrollment_id = bulk.add(
            Enrollment.__table__,
            participant_id=user_id,
            cohort_id=plan.id,
            court_id=court.id,
            case_number=docket,
            referral_type=kind,
            referral_date=referred,
            completion_deadline=plan.start + timedelta(days=120),
            starts_on=plan.start,
            overrides={},
            state=state,
            created_at=referred_at,
            legal_hold=False,
            legal_hold_reason="",
        )
        court.cases.append((name, docket, enrollment_id))
        case = SimpleNamespace(id=enrollment_id, user_id=user_id, plan=plan, events=events)
        self.transition(
            case, None, EnrollmentState.REFERRED, referred_at, f"Referral from {court.name}."
        )
        events.append(
            event(
                referred_at,
                self.admin_id,
                "enrollment.create",
                "enrollment",
                enrollment_id,
                participant_id=user_id,
                cohort_id=plan.id,
                court_id=court.id,
                referral_type=kind.value,
                referral_date=referred.isoformat(),
            )
        )
        if fate == "referred":
            return
        intake = min(
            referred_at + timedelta(days=rng.randint(1, 5)), self.now - timedelta(minutes=30)
        )
        self.transition(
            case, EnrollmentState.REFERRED, EnrollmentState.ACTIVE, intake, "Intake completed."
        )
        marks = self.marks(plan, fate)
        for index, status in enumerate(marks):
            self.mark(case, index, status)
        answered = len(marks) if fate != "terminated" else marks.index(AttendanceStatus.ABSENT)
        self.reflections(case, fate, answered)
        logins = sorted({plan.session_at[0], plan.session_at[max(0, len(marks) - 1)]})
        for at in logins:
            if at < self.now:
                when = at + timedelta(days=1, hours=rng.randint(0, 8))
                events.append(event(min(when, self.now), user_id, "auth.login", "user", user_id))
        if fate == "terminated":
            at = plan.session_at[len(marks) - 1] + timedelta(days=2)
            self.transition(
                case,
                EnrollmentState.ACTIVE,
                EnrollmentState.TERMINATED,
                at,
                "Absent from two sessions in a row; terminated under the attendance policy.",
            )
        if fate == "complete":
            self.complete.append(enrollment_id)

    def fate(self, plan: CohortPlan) -> str:
        roll = self.rng.random()
        if plan.phase == "U":
            return "referred" if roll < 0.2 else "upcoming"
        if plan.phase == "R":
            return "running"
        if roll < 0.12:
            return "terminated"
        return "makeup" if roll < 0.16 else "complete"

    def marks(self, plan: CohortPlan, fate: str) -> list[AttendanceStatus]:
        """His marks for the held sessions, in order; shaped so his completion state is
        the one his fate says (complete, terminated, or still possible while running)."""
        rng, held = self.rng, plan.held
        late_ok = bool(plan.version.policy.get("late_counts_as_attended"))
        marks = [
            AttendanceStatus.LATE if late_ok and rng.random() < 0.06 else AttendanceStatus.PRESENT
            for _ in range(held)
        ]
        if fate == "makeup":
            marks[rng.randrange(held)] = AttendanceStatus.MADE_UP
        elif fate == "terminated":
            first = rng.randint(1, held - 2) if held > 2 else max(0, held - 2)
            marks = marks[:first] + [AttendanceStatus.ABSENT, AttendanceStatus.ABSENT]
        elif fate == "running" and held > 1 and rng.random() < 0.12:
            marks[rng.randrange(held - 1)] = rng.choice(
                [AttendanceStatus.ABSENT, AttendanceStatus.EXCUSED]
            )
        return marks

    def mark(self, case, index: int, status: AttendanceStatus) -> None:
        rng, plan = self.rng, case.plan
        module = plan.version.modules[index]
        full = module.duration_minutes
        actor = self.facilitator(plan)
        at = plan.session_at[index] + timedelta(minutes=full + rng.randint(2, 40))
        if status is AttendanceStatus.MADE_UP:
            other = self.makeup_session(plan, index)
            if other is None:
                status = AttendanceStatus.PRESENT
            else:
                self.makeup(case, index, other, actor)
                return
        minutes = {
            AttendanceStatus.PRESENT: full,
            AttendanceStatus.LATE: full - rng.choice([10, 15, 20]),
        }.get(status, 0)
        self.write_mark(case, plan.session_ids[index], status, minutes, actor, at)

    def write_mark(self, case, session_id, status, minutes, actor, at, *, history=(), **extra):
        """One mark with its history (earlier changes first) and one audit event per change."""
        mark_id = self.bulk.add(
            Attendance.__table__,
            enrollment_id=case.id,
            session_id=session_id,
            status=status,
            minutes_credited=minutes,
            note="",
            made_up_at_session_id=extra.pop("made_up_at", None),
            linked_attendance_id=None,
            recorded_by_id=actor,
            recorded_at=at,
        )
        changes = list(history) + [(status, minutes, at, extra.pop("reason", ""))]
        previous = (None, None)
        for to_status, to_minutes, when, reason in changes:
            change_id = self.bulk.add(
                AttendanceChange.__table__,
                attendance_id=mark_id,
                from_status=previous[0],
                to_status=to_status,
                from_minutes=previous[1],
                to_minutes=to_minutes,
                reason=reason,
                actor_id=actor,
                at=when,
            )
            details = {"enrollment_id": case.id, "session_id": session_id, "to": to_status.value}
            details["minutes"] = to_minutes
            details["change_id"] = change_id  # as services/attendance.py: never the reason
            if previous[0] is not None:
                details["from"] = previous[0].value
            action = extra.get("action") or (
                "attendance.mark" if previous[0] is None else "attendance.change"
            )
            if action == "attendance.makeup":
                details["missed_session_id"] = extra["missed_session_id"]
            case.events.append(event(when, actor, action, "attendance", mark_id, **details))
            previous = (to_status, to_minutes)
        return mark_id

    def makeup_session(self, plan: CohortPlan, index: int):
        """Another cohort's held session of the same module within three weeks after."""
        missed = plan.session_at[index]
        sessions = self.makeup_index.get((plan.version.id, index), [])
        for at, session_id, cohort_id in sessions[bisect_right(sessions, (missed, 1 << 62)) :]:
            if at > missed + timedelta(days=20) or at >= self.now:
                return None
            if cohort_id != plan.id:
                return at, session_id, cohort_id
        return None

    def makeup(self, case, index, other, actor) -> None:
        plan, rng = case.plan, self.rng
        full = plan.version.modules[index].duration_minutes
        missed_id, missed_at = plan.session_ids[index], plan.session_at[index]
        other_at, other_id, _cohort = other
        recorded = other_at + timedelta(minutes=full + rng.randint(2, 40))
        attended = self.write_mark(
            case,
            other_id,
            AttendanceStatus.PRESENT,
            full,
            actor,
            recorded,
            reason=f"Make-up for session {index + 1}",
            action="attendance.makeup",
            missed_session_id=missed_id,
        )
        first = missed_at + timedelta(minutes=full + 5)
        own = self.write_mark(
            case,
            missed_id,
            AttendanceStatus.MADE_UP,
            full,
            actor,
            recorded + timedelta(minutes=1),
            history=[(AttendanceStatus.ABSENT, 0, first, "")],
            reason=f"Made up on {other_at:%Y-%m-%d}",
            made_up_at=other_id,
        )
        self.bulk.links += [{"b_id": own, "b_link": attended}, {"b_id": attended, "b_link": own}]

    def transition(self, case, from_state, to_state, at, reason) -> None:
        actor = self.admin_id if from_state is None else self.facilitator(case.plan)
        step_id = self.bulk.add(
            EnrollmentTransition.__table__,
            enrollment_id=case.id,
            from_state=from_state,
            to_state=to_state,
            actor_id=actor,
            reason=reason,
            at=at,
        )
        if from_state is not None:
            case.events.append(
                event(
                    at,
                    actor,
                    "enrollment.transition",
                    "enrollment",
                    case.id,
                    **{"from": from_state.value, "to": to_state.value, "transition_id": step_id},
                )
            )

    def facilitator(self, plan: CohortPlan) -> int:
        return plan.facilitator_ids[0]

    # --- reflections ---

    def reflections(self, case, fate: str, answered: int) -> None:
        """Answers to the modules whose sessions he attended; while his cohort runs, the
        newest held module is still being reviewed or written, and the newest open module
        (the next one, once its reading opens) often has a draft in progress."""
        plan, rng = case.plan, self.rng
        modules = plan.version.modules
        drafting = self.newest_open(plan) if plan.phase == "R" else None
        for index in range(answered):
            newest = plan.phase == "R" and index == plan.held - 1
            for position, prompt in enumerate(modules[index].prompts):
                if (index, position) == (drafting, 0):
                    continue  # his draft in progress, below
                if not prompt.required and rng.random() < 0.6:
                    continue
                if fate in ("complete", "makeup", "terminated") or not newest:
                    outcome = (
                        "accepted"
                        if rng.random() < 0.9 or fate != "running"
                        else rng.choice(["submitted", "returned", "accepted"])
                    )
                else:
                    outcome = rng.choice(
                        ["submitted", "submitted", "accepted", "draft", "returned"]
                    )
                self.reflection(case, prompt, index, outcome)
        if drafting is not None and modules[drafting].prompts and rng.random() < 0.85:
            prompt = modules[drafting].prompts[0]
            revision = self.reflection(case, prompt, drafting, "draft")
            self.drafting.append(
                {
                    "user_id": case.user_id,
                    "cohort_id": plan.id,
                    "enrollment_id": case.id,
                    "module_number": modules[drafting].session_number,
                    "prompt_id": prompt.id,
                    "draft_revision": revision,
                }
            )

    def newest_open(self, plan: CohortPlan) -> int:
        """Index of the latest module whose reading is open: the next session's, once it
        opens (days before the session, as the program says), else the last held one."""
        if plan.held < len(plan.session_at):
            opens = plan.session_at[plan.held] - timedelta(
                days=plan.version.module_opens_days_before
            )
            if opens <= self.now:
                return plan.held
        return plan.held - 1

    def answer(self, spanish: bool, variant: int, min_words: int) -> tuple[str, int]:
        key = (spanish, variant, min_words)
        if key not in self.texts:
            base = SPANISH_ANSWER if spanish else ANSWERS[variant]
            words = base.split()
            while len(words) < min_words:
                words += base.split()
            body = " ".join(words)
            self.texts[key] = (body, count_words(body))
        return self.texts[key]

    def reflection(self, case, prompt, index: int, outcome: str) -> int:
        """One reflection in the state `outcome`; returns its draft revision."""
        rng, plan = self.rng, case.plan
        body, words = self.answer(plan.spanish, rng.randrange(len(ANSWERS)), prompt.min_words)
        session_at = plan.session_at[index]
        latest = self.now - timedelta(minutes=rng.randint(5, 600))
        if outcome == "draft":
            saved = min(
                session_at + timedelta(days=rng.randint(0, 3), hours=rng.randint(1, 9)), latest
            )
            if saved < session_at - timedelta(days=6):
                saved = latest
            revision = rng.randint(1, 6)
            self.bulk.add(
                Reflection.__table__,
                enrollment_id=case.id,
                prompt_id=prompt.id,
                state=ReflectionState.DRAFT,
                draft_text=" ".join(body.split()[: max(5, words // 2)]),
                draft_saved_at=saved,
                draft_revision=revision,
            )
            return revision

        sent = min(session_at + timedelta(days=rng.randint(1, 5), hours=rng.randint(0, 12)), latest)
        rounds = [("returned" if outcome != "returned" and rng.random() < 0.1 else None)]
        if outcome == "returned":
            rounds = ["returned"]
        elif rounds[0] == "returned":
            rounds.append(outcome)
        else:
            rounds = [outcome]
        reflection_id = self.bulk.next_id[Reflection.__table__.name]
        attempts = []
        for number, result in enumerate(rounds, 1):
            attempts.append((number, sent, result))
            if result == "returned":
                reviewed = min(sent + timedelta(days=rng.randint(1, 3)), latest)
                sent = min(reviewed + timedelta(days=rng.randint(1, 4)), latest)
        final = rounds[-1]
        state = {
            "accepted": ReflectionState.ACCEPTED,
            "returned": ReflectionState.RETURNED,
            "submitted": ReflectionState.SUBMITTED,
        }[final]
        revision = len(attempts) + rng.randint(0, 4)
        self.bulk.add(
            Reflection.__table__,
            enrollment_id=case.id,
            prompt_id=prompt.id,
            state=state,
            draft_text=body,
            draft_saved_at=attempts[-1][1],
            draft_revision=revision,
        )
        reviewer = self.facilitator(plan)
        for number, submitted, result in attempts:
            attempt_id = self.bulk.add(
                ReflectionAttempt.__table__,
                reflection_id=reflection_id,
                number=number,
                text=body,
                word_count=words,
                submitted_at=submitted,
            )
            case.events.append(
                event(
                    submitted,
                    case.user_id,
                    "reflection.submit",
                    "reflection",
                    reflection_id,
                    attempt=number,
                    words=words,
                )
            )
            if result == "submitted":
                continue
            reviewed = min(submitted + timedelta(days=rng.randint(1, 3)), latest)
            if reviewed <= submitted:
                reviewed = submitted + (latest - submitted) / 2
            review_outcome = (
                ReviewOutcome.ACCEPTED if result == "accepted" else ReviewOutcome.RETURNED
            )
            scores = {c["id"]: rng.randrange(len(c["levels"])) for c in plan.version.rubric or []}
            self.bulk.add(
                Review.__table__,
                attempt_id=attempt_id,
                reviewer_id=reviewer,
                outcome=review_outcome,
                comment=rng.choice(
                    RETURN_COMMENTS if review_outcome is ReviewOutcome.RETURNED else ACCEPT_COMMENTS
                ),
                rubric_scores=scores,
                created_at=reviewed,
            )
            case.events.append(
                event(
                    reviewed,
                    reviewer,
                    "reflection.review",
                    "reflection",
                    reflection_id,
                    attempt=number,
                    outcome=review_outcome.value,
                    rubric=scores,
                )
            )
        return revision


def _makeup_index(cohorts: list[CohortPlan]) -> dict:
    index: dict[tuple[int, int], list] = defaultdict(list)
    for plan in cohorts:
        for i in range(plan.held):
            index[(plan.version.id, i)].append((plan.session_at[i], plan.session_ids[i], plan.id))
    for sessions in index.values():
        sessions.sort()
    return index


# --- certificates and the manifest ---------------------------------------------------------------


def _issue_certificates(writer: Writer, k: int, rng: random.Random) -> list[Certificate]:
    """Real certificates through the service for up to k completed men; the rest of the
    completed men are awaiting theirs, as happens between the last session and the issue."""
    chosen = sorted(rng.sample(writer.complete, min(k, len(writer.complete))))
    issued = []
    for enrollment_id in chosen:
        enrollment = db.session.get(Enrollment, enrollment_id)
        issuer = enrollment.cohort.facilitators[0]
        issued.append(certificates.issue(enrollment, issuer))
        db.session.commit()
    return issued


def _search_query(court: CourtPlan, rng: random.Random, docket: str) -> str:
    """A surname, else a docket fragment, that finds a few of the court's cases (2 to 10)."""

    def hits(fragment: str) -> int:
        needle = fragment.lower()
        return sum(
            needle in name.lower() or needle in number.lower() for name, number, _ in court.cases
        )

    surnames = sorted({name.split()[-1] for name, _, _ in court.cases})
    rng.shuffle(surnames)
    for candidate in surnames[:60]:
        if 2 <= hits(candidate) <= 10:
            return candidate
    prefixes = [docket[:length] for length in range(len(docket), 3, -1)]
    fitting = [p for p in prefixes if 2 <= hits(p) <= 10]
    return fitting[0] if fitting else docket


def _manifest(n, writer, courts, cohorts, issued, counts, rng) -> dict:
    # Mid-course: session 4 or later is open (or the furthest a short course gets).
    furthest = max((d["module_number"] for d in writer.drafting), default=0)
    drafting = [d for d in writer.drafting if d["module_number"] >= min(4, furthest)]
    picks = sorted(rng.sample(drafting, min(12, len(drafting))), key=lambda d: d["enrollment_id"])
    users = _emails({d["user_id"] for d in picks})
    participants = [
        {
            "email": users[d["user_id"]],
            "enrollment_id": d["enrollment_id"],
            "module_number": d["module_number"],
            "prompt_id": d["prompt_id"],
            "draft_revision": d["draft_revision"],
        }
        for d in picks
    ]
    sizes = dict(
        db.session.execute(
            select(Enrollment.cohort_id, func.count())
            .where(Enrollment.state == EnrollmentState.ACTIVE)
            .group_by(Enrollment.cohort_id)
        ).all()
    )
    running = [c for c in cohorts if c.phase == "R" and sizes.get(c.id, 0) >= 10] or [
        c for c in cohorts if c.phase == "R"
    ]
    cohort = rng.choice(running) if running else None
    facilitator = None
    if cohort is not None:
        lead = cohort.facilitator_ids[0]
        facilitator = {"email": _emails({lead})[lead], "cohort_id": cohort.id}
    clerk = certificate = None
    if issued:
        cert = rng.choice(issued)
        certificate = {"code": cert.verification_code, "id": cert.id}
        case = cert.enrollment
        court = next(c for c in courts if c.id == case.court_id)
        clerk = {
            "email": _emails({court.clerk_id})[court.clerk_id],
            "court_id": court.id,
            "case_enrollment_id": case.id,
            "search_query": _search_query(court, rng, case.case_number),
        }
    return {
        "scale": n,
        "password": PASSWORD,
        "totp_secret": TOTP_SECRET,
        "participants": participants,
        "facilitator": facilitator,
        "clerk": clerk,
        "certificate": certificate,
        "counts": counts,
    }


def _emails(ids: set[int]) -> dict[int, str]:
    return dict(db.session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())


def counts() -> dict[str, int]:
    tables = {
        "users": User,
        "enrollments": Enrollment,
        "cohorts": Cohort,
        "sessions": Session,
        "attendance": Attendance,
        "reflections": Reflection,
        "attempts": ReflectionAttempt,
        "reviews": Review,
        "certificates": Certificate,
        "audit_events": AuditEvent,
    }
    return {key: db.session.scalar(select(func.count(m.id))) for key, m in tables.items()}


# --- the entry point ----------------------------------------------------------------------------


def generate(
    n: int, *, certificates: int = 50, seed: int = 1, manifest: Path | None = None
) -> Summary:
    """Make n participants and their history in an empty, migrated database with the
    curricula synced. The same n and seed give the same data and the same manifest choices."""
    started = clock.monotonic()
    if current_app.config["ENV_NAME"] == "production":
        raise ScaleRefused("scale data is never added in production.")
    if n < 1:
        raise ScaleRefused("the scale must be at least 1 participant.")
    if db.session.scalar(select(func.count(User.id))) or db.session.scalar(
        select(func.count(Court.id))
    ):
        raise ScaleRefused(
            "the database already has accounts or courts; scale data goes only into an "
            "empty database."
        )
    rng = random.Random(f"{seed}:{n}")
    now = utcnow()
    password_hash = generate_password_hash(PASSWORD)  # one scrypt hash for every account
    bulk = Bulk()
    chain = Chain(bulk)
    admin_id, courts, cohorts = _plan(n, rng, bulk, password_hash, now)
    writer = Writer(bulk, chain, rng, password_hash, now, _makeup_index(cohorts), admin_id)
    for plan in cohorts:
        writer.cohort(plan)
    bulk.flush(commit=True)
    bulk.fix_sequences()
    issued = _issue_certificates(writer, certificates, rng)
    # Fresh statistics for the query planner: without them PostgreSQL (where autovacuum may be
    # off or behind a bulk load) plans a 50k data set as if its tables were empty.
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    audit.checkpoint()  # the bulk-written events are anchored like any others
    totals = counts()
    plan = _manifest(n, writer, courts, cohorts, issued, totals, rng)
    if manifest is not None:
        Path(manifest).write_text(json.dumps(plan, indent=2) + "\n")
    return Summary(totals, clock.monotonic() - started, plan)
