"""Plain helpers the test files share (fixtures live in conftest.py): clients signed in, audit
events read back or forged, answers of a given length sent for review, attendance marked by the
product's default minutes, forms posted like a browser, links, tags and PDF text read from
responses, sessions moved or cancelled, and builders for cohorts, a completed case, stored
certificates and notices, and the program's letterhead."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser
from io import BytesIO
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pypdf import PdfReader

from intervention.extensions import db
from intervention.models import (
    Attendance,
    AttendanceStatus,
    AuditEvent,
    Certificate,
    CourtDocument,
    DocumentKind,
    Enrollment,
    ReflectionAttempt,
    ReviewOutcome,
    SessionStatus,
    User,
)
from intervention.services import attendance as attendance_service
from intervention.services import audit, completion_text, scheduling
from intervention.services import reflections as reflection_service

from .conftest import PASSWORD, csrf_token, login

REQUIRED_PROMPTS = {
    "what-happened": 80,
    "the-person-on-the-other-side": 100,
    "my-excuses": 100,
    "what-i-was-looking-for": 60,
}
OPTIONAL_PROMPTS = {"what-i-want-from-this", "behind-the-mask"}


def today() -> date:
    """Today where the tests' cohorts meet (Los Angeles, make_cohort's default), the day they
    count their weeks from. Not UTC's: from midnight UTC until the evening session's hour there,
    UTC's today is already tomorrow in Los Angeles, and "yesterday's session" not held yet."""
    return datetime.now(ZoneInfo("America/Los_Angeles")).date()


def signed_in(app, user: User, password: str = PASSWORD):
    """A client of its own, signed in as the user the way a person signs in: one test can
    hold several, one per person."""
    client = app.test_client()
    login(client, user, password)
    return client


def events(action: str) -> list[AuditEvent]:
    """The audit log's events of one action, oldest first."""
    query = sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    return list(db.session.scalars(query))


def raw_sql(sql: str, **params) -> None:
    """Run SQL straight against the database, past the services, as someone with access to it
    would; the session forgets what it had loaded."""
    db.session.execute(sa.text(sql), params)
    db.session.expire_all()


def forge_event(
    event_id: int,
    prev_hash: str,
    *,
    hash_with: Callable[[AuditEvent], str] = audit.digest,
) -> AuditEvent:
    """Write a forged event into the audit log by SQL: a certificate's revocation nobody made,
    at `event_id`, linked to `prev_hash` and hashed with `hash_with` (the log's own digest,
    unless the forger only knows an unkeyed one)."""
    forged = AuditEvent(
        at=datetime.now(UTC).replace(microsecond=0),
        actor_id=None,
        action="certificate.revoke",
        object_type="certificate",
        object_id=1,
        ip_address="",
        details={"reason": "forged"},
        prev_hash=prev_hash,
    )
    forged.hash = hash_with(forged)
    raw_sql(
        "INSERT INTO audit_events (id, at, actor_id, action, object_type, object_id,"
        " ip_address, details, prev_hash, hash) VALUES (:id, :at, NULL, :action, :type,"
        " :object_id, '', :details, :prev, :hash)",
        id=event_id,
        at=forged.at.replace(tzinfo=None),
        action=forged.action,
        type=forged.object_type,
        object_id=forged.object_id,
        details=json.dumps(forged.details),
        prev=prev_hash,
        hash=forged.hash,
    )
    return forged


def violated(result) -> dict[str, str]:
    """The rules a completion result says are broken, each with its reason in words."""
    return {b.rule.value: completion_text.breach_reason(b) for b in result.breaches}


def answer(marker: str, words: int) -> str:
    """An answer of exactly `words` words whose first word is a string no page contains."""
    filler = "I thought about my choices and the people they hurt".split()
    body = [filler[i % len(filler)] for i in range(words - 1)]
    return " ".join([marker, *body])


def post_form(client, url: str, data: dict, *, page: str | None = None, **kwargs):
    """Open the page the form is on, read its CSRF token, and post the form."""
    token = csrf_token(client, page or url)
    return client.post(url, data={**data, "csrf_token": token}, **kwargs)


def links(html: str, pattern: str) -> list[str]:
    """Every href on the page matching the pattern, in page order, without repeats."""
    found = re.findall(rf'href="({pattern})"', html)
    return list(dict.fromkeys(found))


class _StartTags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def live_markup(html: str) -> list[tuple[str, dict]]:
    """Every element the HTML opens, self-closing ones too, with its attributes, in order."""
    parser = _StartTags()
    parser.feed(html)
    parser.close()
    return parser.tags


def text_of(response) -> str:
    return response.get_data(as_text=True)


def new_cohort(program, admin: User, facilitator: User, **overrides):
    """A cohort made by the scheduling service, as the director's form makes one: Monday
    evenings at 6:30 pm Los Angeles time from Oct 26, 2026, unless `overrides` say otherwise."""
    values = {
        "name": "Monday evenings",
        "version": program.latest_version,
        "facilitators": [facilitator],
        "start_date": date(2026, 10, 24),  # a Saturday
        "weekday": 0,  # Monday
        "start_time": time(18, 30),
        "timezone": "America/Los_Angeles",
        "location": "Room 204",
        "video_link": "",
        "actor": admin,
    }
    values.update(overrides)
    return scheduling.create_cohort(**values)


def pdf_text(data: bytes, *, stand_in_reads_empty: bool = False) -> str:
    """A PDF's words, line breaks made spaces so wrapped phrases still match.
    stand_in_reads_empty: bytes that only begin like a PDF (a stored stand-in such as
    stored_certificate's) read as no text instead of failing."""
    try:
        pages = PdfReader(BytesIO(data)).pages
        return " ".join(" ".join(page.extract_text().split()) for page in pages)
    except Exception:
        if stand_in_reads_empty:
            return ""
        raise


def prompts_by_key(enrollment: Enrollment) -> dict:
    return {p.key: p for m in enrollment.cohort.version.modules for p in m.prompts}


def mark(
    enrollment: Enrollment,
    number: int,
    status: AttendanceStatus,
    minutes: int | None = None,
    **kw,
) -> Attendance:
    """His mark at session `number` of his cohort (1 is the first), made by its first
    facilitator. Without `minutes`, the product's default for the status
    (attendance.default_minutes): the whole session when present or late, none otherwise.
    `note=` and `reason=` go on to the service."""
    session = enrollment.cohort.sessions[number - 1]
    if minutes is None:
        minutes = attendance_service.default_minutes(session, status)
    facilitator = enrollment.cohort.facilitators[0]
    return attendance_service.mark(session, enrollment, status, minutes, facilitator, **kw)


def mark_all(enrollment: Enrollment, actor: User, status=AttendanceStatus.PRESENT) -> None:
    for session in enrollment.cohort.sessions:
        minutes = attendance_service.default_minutes(session, status)
        attendance_service.mark(session, enrollment, status, minutes, actor)


def move(session, days: int, reason: str) -> None:
    """The session moved `days` later with a reason, set on it directly (no service checks)."""
    session.rescheduled_from = session.scheduled_at
    session.scheduled_at = session.scheduled_at + timedelta(days=days)
    session.reschedule_reason = reason


def cancel(session, reason: str = "Building closed") -> None:
    """The session cancelled with a reason, set on it directly (no service checks)."""
    session.status = SessionStatus.CANCELLED
    session.cancel_reason = reason
    db.session.flush()


def submit_answer(enrollment: Enrollment, key: str, text: str) -> ReflectionAttempt:
    """His answer to the prompt `key`, sent for review through the service as he sends it."""
    reflection = reflection_service.reflection_for(enrollment, prompts_by_key(enrollment)[key])
    return reflection_service.submit(
        reflection, text, reflection.draft_revision, enrollment.participant
    )


def accept_all_required(enrollment: Enrollment, reviewer: User, marker: str = "Answer") -> None:
    for key, minimum in REQUIRED_PROMPTS.items():
        attempt = submit_answer(enrollment, key, answer(f"{marker}{key.replace('-', '')}", minimum))
        reflection_service.review(attempt, ReviewOutcome.ACCEPTED, "", reviewer)


def complete_case(enrollment: Enrollment) -> User:
    """Every session attended and every required reflection accepted; returns the facilitator."""
    facilitator = enrollment.cohort.facilitators[0]
    mark_all(enrollment, facilitator)
    accept_all_required(enrollment, facilitator)
    return facilitator


def stored_certificate(enrollment: Enrollment, issued_by: User, code: str) -> Certificate:
    """A certificate row without a rendered PDF, for tests about who may fetch it."""
    pdf = b"%PDF-1.7 stand-in for " + code.encode()
    cert = Certificate(
        enrollment=enrollment,
        number=f"TEST-2000-{enrollment.id:04d}",
        verification_code=code,
        version=enrollment.cohort.version,
        issued_by=issued_by,
        pdf=pdf,
        sha256=hashlib.sha256(pdf).hexdigest(),
    )
    db.session.add(cert)
    db.session.flush()
    # Its sealed issue event, as the service writes it: /verify confirms nothing without one.
    audit.record("certificate.issue", issued_by, cert, number=cert.number, sha256=cert.sha256)
    return cert


def drafted_notice(enrollment: Enrollment) -> CourtDocument:
    """A non-compliance notice as the engine drafts one (two absences, the limit is one),
    not yet generated or sent."""
    notice = CourtDocument(
        enrollment=enrollment,
        kind=DocumentKind.NONCOMPLIANCE_NOTICE,
        rule="max_absences",
        reason="2 absences; the limit is 1.",
        due_on=enrollment.cohort.start_date,
    )
    db.session.add(notice)
    return notice


SMALL_SVG_LOGO = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4"><rect width="4" height="4"/></svg>'
)


# A program's whole letterhead, as long as a real one: the legal name, two address lines, phone,
# email, licence and the director who signs.
LETTERHEAD = {
    "legal_name": "Northwest Accountability Programs",
    "address": "1420 Fourth Avenue, Suite 300\nSeattle, WA 98101",
    "phone": "(206) 555-0142",
    "email": "court-reports@nwap.example",
    "license_number": "WA-DSHS-IP-2291",
    "director_name": "Dana Whitfield",
    "director_title": "Program Director",
}


def save_provider(admin: User, *, logo: bytes | None = SMALL_SVG_LOGO, **fields: str):
    """The program's full letterhead with a logo, as a director keeps it at /admin/provider.
    `fields` change any of its LETTERHEAD lines; logo=None leaves the logo out."""
    from intervention.services import provider

    return provider.save(actor=admin, logo=logo, **{**LETTERHEAD, **fields})
