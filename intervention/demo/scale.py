"""Scale data for benchmarks: N participants with the history a busy program would have.

Rows go in with bulk Core inserts (lists of dicts, a batch at a time), never ORM objects one
by one, so 50,000 men take minutes rather than hours. The shapes follow the services exactly:
marks with their change history, frozen attempts with reviews, state transitions, and audit
events chained and sealed with the audit service's own keyed digest, then anchored by a
checkpoint, so `audit verify` passes. Only the certificates go through the real service,
because a certificate is its rendered PDF.

The parts: plan.py (courts, staff, cohorts, sessions), people.py (each man's history),
bulk.py (the inserts and the audit chain); this module runs them and writes the manifest.
"""

from __future__ import annotations

import json
import random
import time as clock
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, text
from werkzeug.security import generate_password_hash

from ..extensions import db
from ..models import (
    Attendance,
    AuditEvent,
    Certificate,
    Cohort,
    Enrollment,
    EnrollmentState,
    Meeting,
    Program,
    Reflection,
    ReflectionAttempt,
    Review,
    User,
    utcnow,
)
from ..services import audit, certificates
from .bulk import Bulk, Chain
from .guard import refuse_in_production, refuse_unless_empty
from .people import Writer
from .plan import TOTP_SECRET, CourtPlan, make_plan, makeup_index

PASSWORD = "scale-password"
PROGRAM_SLUG = "accountability-and-change"


class ScaleRefused(Exception):
    pass


@dataclass
class Summary:
    counts: dict[str, int]
    seconds: float
    manifest: dict


def _versions() -> tuple[object, object | None]:
    english = db.session.scalar(select(Program).where(Program.slug == PROGRAM_SLUG))
    if english is None or english.latest_version is None:
        raise ScaleRefused(
            f"the program '{PROGRAM_SLUG}' is not loaded; run 'flask --app intervention "
            "curriculum sync' first."
        )
    spanish = db.session.scalar(select(Program).where(Program.slug == f"{PROGRAM_SLUG}-es"))
    return english.latest_version, spanish.latest_version if spanish else None


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
        "sessions": Meeting,
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
    refuse_in_production(ScaleRefused, "scale data")
    if n < 1:
        raise ScaleRefused("the scale must be at least 1 participant.")
    refuse_unless_empty(ScaleRefused, "scale data")
    rng = random.Random(f"{seed}:{n}")
    now = utcnow()
    password_hash = generate_password_hash(PASSWORD)  # one scrypt hash for every account
    bulk = Bulk()
    chain = Chain(bulk)
    versions = _versions()
    admin_id, courts, cohorts = make_plan(n, rng, bulk, password_hash, now, versions)
    writer = Writer(bulk, chain, rng, password_hash, now, makeup_index(cohorts), admin_id)
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
