"""Issuing, serving and checking completion certificates: the stored PDF is the certificate."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import date
from zoneinfo import ZoneInfo

import segno
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from .. import signing
from ..extensions import db
from ..i18n import format_date, format_datetime
from ..models import (
    AttendanceStatus,
    Certificate,
    CertificateStatus,
    CurriculumVersion,
    Enrollment,
    EnrollmentState,
    Role,
    User,
    utcnow,
)
from . import ServiceError, audit, completion, completion_text, enrollments
from .batches import in_id_order
from .provider import current as current_provider
from .provider import document_parties

# Crockford's base32: no I, L, O or U, so a code read aloud cannot be misheard as another.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16  # 16 x 5 bits = 80 bits of randomness


def new_verification_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(raw: str) -> str:
    """Accept what people type: any case, dashes or spaces, O for 0, I or L for 1."""
    code = re.sub(r"[\s\-]", "", raw or "").upper()
    return code.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))


def format_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def verify_url(code: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/verify/{format_code(code)}"


def _next_number(enrollment: Enrollment, year: int) -> str:
    program = enrollment.cohort.version.program
    prefix = f"{program.code}-{year}-"
    numbers = db.session.scalars(
        select(Certificate.number).where(Certificate.number.like(f"{prefix}%"))
    )
    last = max((int(n.rsplit("-", 1)[1]) for n in numbers), default=0)
    return f"{prefix}{last + 1:04d}"


def _check_issuer(actor: User) -> None:
    if actor.role not in (Role.FACILITATOR, Role.ADMIN):
        raise ServiceError(_("Only a facilitator or the program director can issue certificates."))


def _state_refusal(enrollment: Enrollment) -> str | None:
    if enrollment.state not in (EnrollmentState.ACTIVE, EnrollmentState.COMPLETED):
        # The engine counts sessions and reflections only; a closed case is not completed.
        return _(
            "This case is %(status)s; no certificate can be issued.",
            status=enrollment.state.label.lower(),
        )
    return None


def _valid_refusal(enrollment: Enrollment) -> str | None:
    existing = enrollment.valid_certificate
    if existing is not None:
        return _("Certificate %(number)s was already issued for this case.", number=existing.number)
    return None


def _revoked_refusal(enrollment: Enrollment) -> str | None:
    # Revocation is final: issuing again would quietly undo it. Only the director's
    # deliberate step, issue_after_revocation, naming the revocation, may follow it.
    revoked = enrollment.revoked_certificate
    if revoked is not None:
        return _(
            "Certificate %(number)s was revoked; only the program director can issue a new"
            " certificate for this case, from the revoked certificate's page, giving the"
            " reason.",
            number=revoked.number,
        )
    return None


def _incomplete_refusal(result: completion.Completion) -> str | None:
    """The engine's word, which every certificate needs, first or re-issued."""
    if not result.complete:
        return _(
            "This case is not complete yet: %(unmet)s",
            unmet=" ".join(completion_text.unmet(result)),
        )
    return None


def why_not_ready(enrollment: Enrollment, result: completion.Completion) -> str | None:
    """Why no certificate can be issued for this case now, or None when it is ready."""
    return (
        _state_refusal(enrollment)
        or _valid_refusal(enrollment)
        or _revoked_refusal(enrollment)
        or _incomplete_refusal(result)
    )


def ready_for_certificate(enrollment: Enrollment, result: completion.Completion) -> bool:
    """Ready for a certificate: the engine says complete, the case is active or completed,
    and it has neither a valid certificate nor a revoked one (which only the director's
    deliberate issue after revocation may follow). The facilitator's pages ask this, and
    issue() refuses with the reason when it is not so."""
    return why_not_ready(enrollment, result) is None


def _refuse(problem: str | None) -> None:
    if problem:
        raise ServiceError(problem)


def issue(enrollment: Enrollment, actor: User) -> Certificate:
    """Issue the completion certificate once the engine says the case is complete."""
    _check_issuer(actor)
    enrollments.lock(enrollment)
    result = completion.evaluate(enrollment)
    _refuse(why_not_ready(enrollment, result))

    issued_at = utcnow()
    cert = _store_with_next_number(enrollment, actor, result, issued_at)
    _complete(enrollment, cert, actor)
    _record_issue(cert, actor)
    return cert


def issue_after_revocation(revoked: Certificate, actor: User, reason: str) -> Certificate:
    """The director's decision to certify a case again after a revocation.

    As with a certificate authority, whose revocations are permanent (RFC 5280 5.3.1 allows
    un-revoking only a temporary hold, which this program has none of), the revoked
    certificate stays revoked for good: a new certificate, with a new number, code and PDF,
    is issued through the same guards as the first, and records which revocation it follows
    and why, so the record shows a decision and not an accident.
    """
    if actor.role is not Role.ADMIN:
        raise ServiceError(
            _("Only the program director can issue a new certificate after a revocation.")
        )
    reason = _reason(reason, _("Give the reason for issuing a new certificate."))
    enrollment = _lock(revoked)
    if revoked.status is not CertificateStatus.REVOKED:
        raise ServiceError(
            _(
                "Certificate %(number)s is %(status)s; only a revoked certificate can be"
                " followed by a new one.",
                number=revoked.number,
                status=revoked.status.label.lower(),
            )
        )
    _check_followed(revoked)
    _refuse(_valid_refusal(enrollment))
    newest = enrollment.revoked_certificate
    if newest is not revoked:
        raise ServiceError(
            _(
                "Certificate %(number)s is the newest revocation of this case; name it instead.",
                number=newest.number,
            )
        )
    _refuse(_state_refusal(enrollment))
    result = completion.evaluate(enrollment)
    _refuse(_incomplete_refusal(result))

    issued_at = utcnow()
    cert = _store_with_next_number(
        enrollment,
        actor,
        result,
        issued_at,
        follows_revoked=revoked,
        follows_revoked_reason=reason,
    )
    _complete(enrollment, cert, actor)
    _record_issue(cert, actor, after_revocation_of=revoked.number, reason=reason)
    return cert


def _reason(reason: str | None, missing: str) -> str:
    """The reason given, trimmed; refused with `missing` when there is none."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(missing)
    return reason


def _lock(cert: Certificate) -> Enrollment:
    """Hold the certificate's case, and read the certificate again: a second click waits for
    the first, then sees its result. Returns the case."""
    enrollment = cert.enrollment
    enrollments.lock(enrollment)
    db.session.refresh(cert)
    return enrollment


def _check_followed(revoked: Certificate) -> None:
    follow_up = db.session.scalar(
        select(Certificate).where(Certificate.follows_revoked_id == revoked.id)
    )
    if follow_up is not None:
        raise ServiceError(
            _(
                "Certificate %(number)s was already followed by certificate %(new)s.",
                number=revoked.number,
                new=follow_up.number,
            )
        )


def reissue(old: Certificate, actor: User, reason: str) -> Certificate:
    """A correction: a new certificate (new number, code and PDF) through the same guards as
    the first, and the old one marked superseded by it, with the reason."""
    _check_issuer(actor)
    reason = _reason(reason, _("Give the reason for re-issuing this certificate."))
    enrollment = _lock(old)
    if old.status is not CertificateStatus.VALID:
        raise ServiceError(
            _(
                "Certificate %(number)s is %(status)s; only a valid certificate can be re-issued.",
                number=old.number,
                status=old.status.label.lower(),
            )
        )
    _refuse(_state_refusal(enrollment))
    result = completion.evaluate(enrollment)
    _refuse(_incomplete_refusal(result))

    issued_at = utcnow()
    # The engine's completion date, from the records: a correction that leaves them as they
    # were keeps the date the first certificate stated.
    cert = _store_with_next_number(enrollment, actor, result, issued_at, replaces=old)
    old.status = CertificateStatus.SUPERSEDED
    old.status_reason = reason
    old.status_changed_at = issued_at
    old.superseded_by_id = cert.id
    db.session.flush()
    _complete(enrollment, cert, actor)
    _record_issue(cert, actor, replaces=old.number, reason=reason)
    audit.record(
        "certificate.supersede", actor, old, number=old.number, by=cert.number, reason=reason
    )
    return cert


def _record_issue(cert: Certificate, actor: User, **extra) -> None:
    """The sealed issue event every certificate has, first, re-issued or issued after a
    revocation: its number, case and the stored PDF's hash, which integrity() checks."""
    audit.record(
        "certificate.issue",
        actor,
        cert,
        number=cert.number,
        sha256=cert.sha256,
        enrollment_id=cert.enrollment_id,
        **extra,
    )


def _complete(enrollment: Enrollment, cert: Certificate, actor: User) -> None:
    if enrollment.state is EnrollmentState.ACTIVE:
        enrollments.transition(
            enrollment, EnrollmentState.COMPLETED, actor, f"Certificate {cert.number} issued."
        )


def _store_with_next_number(
    enrollment,
    actor,
    result,
    issued_at,
    *,
    replaces=None,
    follows_revoked=None,
    follows_revoked_reason="",
) -> Certificate:
    """Numbers are sequential per program and year; when another issue takes the same
    number first (the unique constraint says so), take the next one and render again."""
    version = enrollment.cohort.version
    completed_on = result.completed_on or _local_day(issued_at, enrollment.court.timezone)
    for _try in range(5):
        number = _next_number(enrollment, issued_at.year)
        code = new_verification_code()
        pdf = render_certificate(
            number,
            code,
            enrollment,
            actor,
            issued_at,
            result,
            completed_on=completed_on,
            replaces=replaces.number if replaces is not None else None,
        )
        # Built from ids, not relationships, so nothing reaches the session before the
        # savepoint: a taken number then rolls back this row alone.
        cert = Certificate(
            enrollment_id=enrollment.id,
            number=number,
            verification_code=code,
            version_id=version.id,
            issued_by_id=actor.id,
            issued_at=issued_at,
            completed_on=completed_on,
            pdf=pdf,
            sha256=hashlib.sha256(pdf).hexdigest(),
            follows_revoked_id=follows_revoked.id if follows_revoked is not None else None,
            follows_revoked_reason=follows_revoked_reason,
        )
        try:
            with db.session.begin_nested():
                db.session.add(cert)
            db.session.refresh(enrollment, ["certificates"])
            return cert
        except IntegrityError:
            if follows_revoked is not None:
                _check_followed(follows_revoked)  # another request followed it first
            continue
    raise ServiceError(_("Could not give the certificate a number; please try again."))


def render_certificate(
    number: str,
    code: str,
    enrollment: Enrollment,
    issued_by: User,
    issued_at,
    result: completion.Completion,
    *,
    completed_on: date | None = None,
    replaces: str | None = None,
) -> bytes:
    """The certificate's PDF in its court's language, whoever issues it."""
    with force_locale(enrollment.court.language):
        return _render_certificate(
            number,
            code,
            enrollment,
            issued_by,
            issued_at,
            result,
            completed_on=completed_on or _local_day(issued_at, enrollment.court.timezone),
            replaces=replaces,
        )


def _render_certificate(
    number, code, enrollment, issued_by, issued_at, result, *, completed_on, replaces
) -> bytes:
    from ..pdf import render_pdf

    version = enrollment.cohort.version
    tz = enrollment.court.timezone
    attended = _attended_lines(result)
    url = verify_url(code)
    director = signing.director(issued_by)
    facts = certificate_facts(
        number,
        enrollment,
        director,
        issued_at,
        result,
        attended,
        completed_on=completed_on,
        replaces=replaces,
        verify_url=url,
    )
    return render_pdf(
        "pdf/certificate.html",
        title=_("Certificate of completion %(number)s", number=number),
        author=f"{issued_by.full_name}, {issued_by.role.label}",
        signed_by=str(director),
        attachments=[_facts_attachment(facts)],
        program_title=version.program.title,
        **curriculum_metadata(version),
        show_titles=enrollment.court.session_titles_on_documents,
        participant_name=enrollment.participant.full_name,
        court_name=enrollment.court.name,
        court_jurisdiction=enrollment.court.jurisdiction,
        case_number=enrollment.case_number,
        referral_type=enrollment.referral_type.label,
        referral_date=format_date(enrollment.referral_date),
        completion_date=format_date(completed_on),
        issue_date=format_date(issued_at, tz),
        sessions=_certificate_sessions(attended, tz),
        total_hours=f"{result.minutes_credited / 60:.1f}",
        sessions_required=result.sessions_required,
        reflections_accepted=result.reflections_accepted,
        # The attestation is the director's, whoever pressed the button.
        issued_by_name=director.name,
        issued_by_role=director.title,
        issued_at=format_datetime(issued_at, tz),
        certificate_number=number,
        verification_code=format_code(code),
        verify_url=url,
        # 2.5 px modules: about 0.66 mm printed, well above what phone cameras read.
        qr_svg=segno.make(url, error="m").svg_inline(scale=2.5),
        replaces=replaces,
        **document_parties(enrollment, version.program.title),
    )


def _attended_lines(result: completion.Completion) -> list:
    """Sessions before he started count only once made up; credited lines are exactly those."""
    return [
        line
        for line in result.lines
        if line.credited and (line.counts or line.status is AttendanceStatus.MADE_UP)
    ]


def _facts_attachment(facts: dict) -> dict:
    """The certificate facts as the JSON file attached to the PDF."""
    return {
        "name": FACTS_FILENAME,
        "description": "Certificate facts, machine-readable (" + FACTS_SCHEMA_ID + ")",
        "data": json.dumps(facts, ensure_ascii=False, indent=2).encode(),
    }


def _certificate_sessions(attended: list, tz: str) -> list[dict]:
    """The table of credited sessions, dated in the court's timezone."""
    return [
        {
            "number": line.session.number,
            "title": line.session.module.title,
            "date": format_date(line.session.scheduled_at, tz),
            "status": line.status.label if line.status else "",
            "hours": f"{line.minutes / 60:.1f}",
        }
        for line in attended
    ]


# The certificate's facts as JSON inside the PDF (a PDF/A-3 associated file), for court systems
# to read without OCR; docs/schemas/certificate-facts.schema.json describes it.
FACTS_FILENAME = "certificate-facts.json"
FACTS_SCHEMA_ID = "https://intervention.example/schemas/certificate-facts/1"


def certificate_facts(
    number, enrollment, director, issued_at, result, attended, *, completed_on, replaces, verify_url
) -> dict:
    """The facts the certificate states, in ISO formats and the program's own words: no
    reflection text and no session titles, as on the page."""
    tz = enrollment.court.timezone
    return {
        "$schema": FACTS_SCHEMA_ID,
        "certificate_number": number,
        "replaces": replaces,
        "verify_url": verify_url,
        "program": {
            "title": enrollment.cohort.version.program.title,
            "curriculum_version": enrollment.cohort.version.label,
        },
        "court": {
            "name": enrollment.court.name,
            "jurisdiction": enrollment.court.jurisdiction,
        },
        "case_number": enrollment.case_number,
        "referral_type": enrollment.referral_type.value,
        "participant": {
            "name": enrollment.participant.full_name,
            "date_of_birth": enrollment.date_of_birth.isoformat()
            if enrollment.date_of_birth
            else None,
            "court_person_number": enrollment.court_person_number or None,
        },
        "dates": {
            "referred": enrollment.referral_date.isoformat(),
            # The day the last requirement was met, not the day of issue.
            "completed": completed_on.isoformat(),
            "issued": _local_day(issued_at, tz).isoformat(),
        },
        "sessions": [
            {
                "number": line.session.number,
                "date": _local_day(line.session.scheduled_at, tz).isoformat(),
                "attendance": line.status.value if line.status else None,
                "hours": round(line.minutes / 60, 2),
            }
            for line in attended
        ],
        "sessions_required": result.sessions_required,
        "total_hours": round(result.minutes_credited / 60, 2),
        "reflections_accepted": result.reflections_accepted,
        "issuer": {"name": director.name, "title": director.title},
        "provider": _provider_facts(enrollment.cohort.version.program.title),
    }


def _provider_facts(program_title: str) -> dict:
    record = current_provider()
    if record is None:
        return {"name": program_title, "license_number": None}
    return {"name": record.legal_name, "license_number": record.license_number or None}


def curriculum_metadata(version) -> dict:
    """The curriculum version and its full fingerprint for a court document's metadata
    (Keywords and Subject): an auditor can tell which course text he took without it
    printing on a page that goes into a public court file."""
    return {
        "metadata_keywords": (
            f"curriculum-version:{version.label}; curriculum-sha256:{version.content_hash}"
        ),
        "metadata_subject": _(
            "%(program)s, curriculum version %(version)s",
            program=version.program.title,
            version=version.label,
        ),
    }


def _local_day(moment, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


# What the verification page shows of a certificate, in the same query as the certificate.
_enrollment = joinedload(Certificate.enrollment)
VERIFY_PAGE = (
    _enrollment.joinedload(Enrollment.participant),
    _enrollment.joinedload(Enrollment.court),
    _enrollment.joinedload(Enrollment.transitions),
    joinedload(Certificate.version).joinedload(CurriculumVersion.program),
    joinedload(Certificate.superseded_by),
)


def find_by_code(raw: str) -> Certificate | None:
    code = normalize_code(raw)
    if len(code) != CODE_LENGTH:
        return None
    return db.session.scalar(
        select(Certificate).where(Certificate.verification_code == code).options(*VERIFY_PAGE)
    )


def find_by_pdf(data: bytes) -> Certificate | None:
    digest = hashlib.sha256(data).hexdigest()
    return db.session.scalar(
        select(Certificate).where(Certificate.sha256 == digest).options(*VERIFY_PAGE)
    )


# The events that vouch for a certificate: its issue (with the PDF's hash), and any later end.
ISSUE_EVENTS = ("certificate.issue", "certificate.revoke", "certificate.supersede")


def integrity(cert, events: list | None = None) -> audit.Integrity:
    """Is the stored certificate the one issued? Its PDF must hash to what its sealed issue
    event recorded, and so must its SHA-256 column (which an upload is looked up by); its
    number and case must be the issued ones; a certificate the log revoked or superseded
    cannot be valid. Someone who can write to the database but lacks the audit key can
    change the rows, never the sealed event (audit.py), so any difference is tampering.
    `cert`: a Certificate or a row with its columns; `events`: its sealed ISSUE_EVENTS when
    the caller has them already."""
    if events is None:
        events = audit.sealed_events_of("certificate", cert.id, ISSUE_EVENTS)
    issued = next((e for e in events if e.action == "certificate.issue"), None)
    if issued is None:
        return audit.Integrity(
            False, "no_issue_event", _("No sealed issue event records this certificate.")
        )
    recorded = issued.details or {}
    actual = hashlib.sha256(cert.pdf or b"").hexdigest()
    if recorded.get("sha256") != actual:
        return audit.Integrity(
            False,
            "pdf_changed",
            _(
                "Its stored PDF is not the one issued: the PDF's SHA-256 is %(actual)s, the "
                "issue event recorded %(recorded)s.",
                actual=actual,
                recorded=recorded.get("sha256"),
            ),
        )
    if cert.sha256 != actual:
        return audit.Integrity(
            False,
            "hash_changed",
            _(
                "Its SHA-256 column says %(stored)s but its PDF hashes to %(actual)s.",
                stored=cert.sha256,
                actual=actual,
            ),
        )
    if (
        recorded.get("number") != cert.number
        or recorded.get("enrollment_id", cert.enrollment_id) != cert.enrollment_id
    ):
        return audit.Integrity(
            False,
            "record_changed",
            _("Its number or case is not the one the issue event recorded."),
        )
    if cert.status is CertificateStatus.VALID and len(events) > 1:
        return audit.Integrity(
            False,
            "status_changed",
            _("The log revoked or superseded it, yet its status says valid."),
        )
    return audit.Integrity(True)


def confirm(cert: Certificate, actor: User | None, method: str) -> audit.Integrity:
    """The check /verify makes before it may answer for a certificate; a failure is an
    incident, recorded for the director (ids and hashes, nothing of the man)."""
    result = integrity(cert)
    if not result.intact:
        audit.record(
            "certificate.integrity_failure",
            actor,
            cert,
            number=cert.number,
            reason=result.reason,
            method=method,
            stored_sha256=hashlib.sha256(cert.pdf or b"").hexdigest(),
        )
    return result


def check_all():
    """(certificate, integrity) for every certificate, a batch at a time as plain rows with
    their PDFs, so nothing piles up in the session: the daily `audit verify` reads every
    stored byte."""
    events = audit.sealed_events_by_object("certificate", ISSUE_EVENTS)
    columns = (
        Certificate.id,
        Certificate.number,
        Certificate.enrollment_id,
        Certificate.status,
        Certificate.sha256,
        Certificate.pdf,
    )
    for cert in in_id_order(*columns):
        yield cert, integrity(cert, events.get(cert.id, []))


def record_download(cert: Certificate, actor: User) -> None:
    audit.record("certificate.download", actor, cert, number=cert.number)


def revoke(cert: Certificate, actor: User, reason: str) -> Certificate:
    if actor.role is not Role.ADMIN:
        raise ServiceError(_("Only the program director can revoke a certificate."))
    if cert.status is not CertificateStatus.VALID:
        raise ServiceError(
            _(
                "Certificate %(number)s is already %(status)s.",
                number=cert.number,
                status=cert.status.label.lower(),
            )
        )
    if not reason.strip():
        raise ServiceError(_("Give the reason for revoking this certificate."))
    cert.status = CertificateStatus.REVOKED
    cert.status_reason = reason.strip()
    cert.status_changed_at = utcnow()
    db.session.flush()
    audit.record("certificate.revoke", actor, cert, number=cert.number, reason=reason.strip())
    return cert
