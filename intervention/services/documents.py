"""Progress reports, non-compliance notices and termination reports: PDFs for the court,
stored once with their SHA-256. They state status, dates and counts, never reflection text."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import select, update

from .. import signing
from ..extensions import db
from ..i18n import format_date, format_datetime
from ..models import (
    RECOMMENDATIONS,
    AttendanceStatus,
    CourtDocument,
    DocumentKind,
    Enrollment,
    EnrollmentState,
    Role,
    User,
    utcnow,
)
from . import ServiceError, audit, certificates, completion, completion_text
from .batches import in_id_order
from .notices import contacts_for
from .policy import absence_statuses, effective_policy
from .provider import document_parties

# The prefix of each kind's document number: PR-<case>-<n>, NC-<case>-<n>, TR-<case>-<n>.
PREFIX = {
    DocumentKind.PROGRESS_REPORT: "PR",
    DocumentKind.NONCOMPLIANCE_NOTICE: "NC",
    DocumentKind.TERMINATION_REPORT: "TR",
}
TEMPLATE = {
    DocumentKind.PROGRESS_REPORT: "pdf/progress_report.html",
    DocumentKind.NONCOMPLIANCE_NOTICE: "pdf/noncompliance_notice.html",
    DocumentKind.TERMINATION_REPORT: "pdf/termination_report.html",
}


class AlreadyGenerated(ServiceError):
    """The notice's PDF exists; it is never generated again."""


def documents_for(enrollment: Enrollment) -> list[CourtDocument]:
    return list(
        db.session.scalars(
            select(CourtDocument)
            .where(CourtDocument.enrollment_id == enrollment.id)
            .order_by(CourtDocument.created_at, CourtDocument.id)
        )
    )


def numbers_for(
    enrollment: Enrollment, documents: list[CourtDocument] | None = None
) -> dict[int, str]:
    """Each document's number: its kind, the case, and its place among the case's documents
    of that kind (in the order they were made, so a number never changes). `documents`:
    every document of the case when the caller has them already."""
    numbers: dict[int, str] = {}
    seen: dict[DocumentKind, int] = {}
    if documents is None:
        documents = documents_for(enrollment)
    for doc in sorted(documents, key=lambda d: d.id):
        seen[doc.kind] = seen.get(doc.kind, 0) + 1
        numbers[doc.id] = f"{PREFIX[doc.kind]}-{enrollment.case_number}-{seen[doc.kind]}"
    return numbers


def document_number(doc: CourtDocument) -> str:
    return numbers_for(doc.enrollment)[doc.id]


def filename(doc: CourtDocument) -> str:
    kind = doc.kind.value.replace("_", "-")
    return re.sub(r"[^A-Za-z0-9._-]+", "-", f"{kind}-{document_number(doc)}") + ".pdf"


def _check_staff(actor: User) -> None:
    if actor.role not in (Role.FACILITATOR, Role.ADMIN):
        raise ServiceError(
            _("Only a facilitator or the program director can make court documents.")
        )


def progress_report(enrollment: Enrollment, actor: User) -> CourtDocument:
    """Where the case stands today, for the court; any time, as often as asked."""
    return _new_document(enrollment, DocumentKind.PROGRESS_REPORT, actor)


def termination_report(enrollment: Enrollment, actor: User) -> CourtDocument:
    """The report that goes with a termination; the reason is the transition's."""
    if enrollment.state is not EnrollmentState.TERMINATED:
        raise ServiceError(_("A termination report is made only for a terminated case."))
    return _new_document(enrollment, DocumentKind.TERMINATION_REPORT, actor)


def _new_document(enrollment: Enrollment, kind: DocumentKind, actor: User) -> CourtDocument:
    _check_staff(actor)
    now = utcnow()
    doc = CourtDocument(
        enrollment=enrollment,
        kind=kind,
        reason=_termination(enrollment).reason if kind is DocumentKind.TERMINATION_REPORT else "",
        generated_by=actor,
        generated_at=now,
        created_at=now,
    )
    db.session.add(doc)
    db.session.flush()  # the id is printed on the document
    doc.pdf = render(doc, actor, now)
    doc.sha256 = hashlib.sha256(doc.pdf).hexdigest()
    db.session.flush()
    _audit_generated(doc, actor)
    return doc


def generate_notice(notice: CourtDocument, actor: User) -> CourtDocument:
    """Render a drafted notice once. Its bytes never change after that: a second request,
    even one racing the first, finds the PDF there and changes nothing."""
    if notice.kind is not DocumentKind.NONCOMPLIANCE_NOTICE:
        raise ServiceError(_("Only a drafted non-compliance notice is generated here."))
    _check_staff(actor)
    if notice.sha256 is not None:
        raise _already(notice)
    now = utcnow()
    pdf = render(notice, actor, now)
    # Conditional, so whichever request writes first wins and the other changes nothing.
    stored = db.session.execute(
        update(CourtDocument)
        .where(CourtDocument.id == notice.id, CourtDocument.sha256.is_(None))
        .values(
            pdf=pdf,
            sha256=hashlib.sha256(pdf).hexdigest(),
            generated_by_id=actor.id,
            generated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(notice)
    if stored.rowcount != 1:
        raise _already(notice)
    _audit_generated(notice, actor)
    return notice


def _already(notice: CourtDocument) -> AlreadyGenerated:
    when = format_datetime(notice.generated_at, notice.enrollment.court.timezone)
    if notice.generated_by is None:
        return AlreadyGenerated(
            _(
                "Notice %(number)s was already generated on %(when)s. "
                "Its PDF never changes; nothing was done.",
                number=document_number(notice),
                when=when,
            )
        )
    return AlreadyGenerated(
        _(
            "Notice %(number)s was already generated on %(when)s by %(name)s. "
            "Its PDF never changes; nothing was done.",
            number=document_number(notice),
            when=when,
            name=notice.generated_by.full_name,
        )
    )


def _audit_generated(doc: CourtDocument, actor: User) -> None:
    audit.record(
        "document.generate",
        actor,
        doc,
        enrollment_id=doc.enrollment_id,
        kind=doc.kind.value,
        sha256=doc.sha256,
    )


def integrity(doc, events: list | None = None) -> audit.Integrity:
    """Is the stored document the one generated? Its PDF and its SHA-256 column must match
    the hash its sealed `document.generate` event recorded, for the same case and kind (see
    certificates.integrity). A notice still in draft has neither PDF nor event.
    `doc`: a CourtDocument or a row with its columns; `events`: its sealed generate events."""
    if events is None:
        events = audit.sealed_events_of("courtdocument", doc.id, ("document.generate",))
    if not events:
        if doc.sha256 is None and doc.pdf is None:
            return audit.Integrity(True)  # a drafted notice, not generated yet
        return audit.Integrity(
            False, "no_issue_event", _("No sealed event records this document's generation.")
        )
    recorded = events[0].details or {}
    actual = hashlib.sha256(doc.pdf).hexdigest() if doc.pdf is not None else None
    if recorded.get("sha256") != actual:
        return audit.Integrity(
            False,
            "pdf_changed",
            _(
                "Its stored PDF is not the one generated: the PDF's SHA-256 is %(actual)s, "
                "the generate event recorded %(recorded)s.",
                actual=actual or "-",
                recorded=recorded.get("sha256"),
            ),
        )
    if doc.sha256 != actual:
        return audit.Integrity(
            False,
            "hash_changed",
            _(
                "Its SHA-256 column says %(stored)s but its PDF hashes to %(actual)s.",
                stored=doc.sha256,
                actual=actual,
            ),
        )
    if recorded.get("enrollment_id") != doc.enrollment_id or recorded.get("kind") != (
        doc.kind.value
    ):
        return audit.Integrity(
            False, "record_changed", _("Its case or kind is not the one the event recorded.")
        )
    return audit.Integrity(True)


def check_all():
    """(document, integrity) for every court document, as plain rows a batch at a time."""
    events = audit.sealed_events_by_object("courtdocument", ("document.generate",))
    columns = (
        CourtDocument.id,
        CourtDocument.enrollment_id,
        CourtDocument.kind,
        CourtDocument.sha256,
        CourtDocument.pdf,
    )
    for doc in in_id_order(*columns):
        yield doc, integrity(doc, events.get(doc.id, []))


def record_download(doc: CourtDocument, actor: User) -> None:
    audit.record(
        "document.download",
        actor,
        doc,
        enrollment_id=doc.enrollment_id,
        kind=doc.kind.value,
    )


def _termination(enrollment: Enrollment):
    ended = [t for t in enrollment.transitions if t.to_state is EnrollmentState.TERMINATED]
    if not ended:
        raise ServiceError(_("This case has no termination on record."))
    return ended[-1]


# --- rendering ---------------------------------------------------------------------------


def render(doc: CourtDocument, actor: User, generated_at: datetime) -> bytes:
    """The PDF of one document, from the records as they stand now, in the court's language
    whoever asks for it: labels, dates and the engine's words alike."""
    with force_locale(doc.enrollment.court.language):
        return _render(doc, actor, generated_at)


def _render(doc: CourtDocument, actor: User, generated_at: datetime) -> bytes:
    from ..pdf import render_pdf

    enrollment = doc.enrollment
    number = document_number(doc)
    result = completion.evaluate(enrollment)
    director = signing.director(actor)
    context = {
        **_case_facts(enrollment, result),
        "document_number": number,
        "document_id": doc.id,
        # The attestation is the director's, whoever generated the document.
        "generated_by_name": director.name,
        "generated_by_role": director.title,
        "generated_at": _when(generated_at, enrollment),
        **_summary(result, enrollment.state.is_open),
    }
    if doc.kind is not DocumentKind.PROGRESS_REPORT:
        context.update(_contacts_and_recommendation(enrollment))
    if doc.kind is DocumentKind.NONCOMPLIANCE_NOTICE:
        context.update(_notice_facts(doc, result))
    if doc.kind is DocumentKind.TERMINATION_REPORT:
        ended = _termination(enrollment)
        context.update(
            terminated_on=_day(ended.at, enrollment),
            terminated_by=f"{ended.actor.full_name}, {ended.actor.role.label}",
            termination_reason=ended.reason,
        )
    return render_pdf(
        TEMPLATE[doc.kind],
        title=_title(doc.kind, number),
        author=f"{actor.full_name}, {actor.role.label}",
        signed_by=str(director),
        **context,
    )


def _title(kind: DocumentKind, number: str) -> str:
    """The PDF's title, which its metadata and a screen reader announce."""
    if kind is DocumentKind.PROGRESS_REPORT:
        return _("Progress report %(number)s", number=number)
    if kind is DocumentKind.NONCOMPLIANCE_NOTICE:
        return _("Notice of non-compliance %(number)s", number=number)
    return _("Termination report %(number)s", number=number)


def _day(value, enrollment: Enrollment) -> str:
    return format_date(value, enrollment.court.timezone)


def _when(value, enrollment: Enrollment) -> str:
    return format_datetime(value, enrollment.court.timezone)


def _case_facts(enrollment: Enrollment, result: completion.Completion) -> dict:
    version = enrollment.cohort.version
    return {
        "program_title": version.program.title,
        **certificates.curriculum_metadata(version),
        "show_titles": enrollment.court.session_titles_on_documents,
        "participant_name": enrollment.participant.full_name,
        "court_name": enrollment.court.name,
        "court_jurisdiction": enrollment.court.jurisdiction,
        "case_number": enrollment.case_number,
        "referral_type": enrollment.referral_type.label,
        "referral_date": _day(enrollment.referral_date, enrollment),
        "starts_on": _day(enrollment.starts_on, enrollment),
        "deadline": _day(enrollment.completion_deadline, enrollment) or _("None set"),
        # One plain statement: the state and whether he can still complete, never "Active"
        # beside a sentence saying completion is no longer possible.
        "status": _status_statement(enrollment, result),
        "cohort_name": enrollment.cohort.name,
        **document_parties(enrollment, version.program.title),
    }


def _status_statement(enrollment: Enrollment, result: completion.Completion) -> str:
    state = enrollment.state
    if state is EnrollmentState.COMPLETED:
        cert = enrollment.valid_certificate
        if cert is not None:
            # The day the last requirement was met, then the certificate's own date.
            return _(
                "Completed %(completed)s. Certificate of completion %(number)s was issued"
                " %(date)s.",
                completed=_day(cert.completion_day(enrollment.court.timezone), enrollment),
                number=cert.number,
                date=_day(cert.issued_at, enrollment),
            )
        return _("Completed.")
    if not state.is_open:
        since = enrollment.transitions[-1].at if enrollment.transitions else None
        if since is None:
            return f"{state.label}."
        return _("%(status)s on %(date)s.", status=state.label, date=_day(since, enrollment))
    if result.complete:
        return _(
            "%(status)s — every requirement is met; the certificate of completion is not yet"
            " issued.",
            status=state.label,
        )
    if result.possible:
        return _("%(status)s — can still complete.", status=state.label)
    return _(
        "%(status)s — can no longer complete: %(reasons)s",
        status=state.label,
        reasons=" ".join(completion_text.blockers(result)),
    )


def _summary(result: completion.Completion, open_case: bool) -> dict:
    made_up = sum(1 for line in result.lines if line.status is AttendanceStatus.MADE_UP)
    return {
        "sessions_required": result.sessions_required,
        "sessions_credited": result.sessions_credited,
        "hours_credited": f"{result.minutes_credited / 60:.1f}",
        "absences": result.absences,
        "makeups_done": made_up,
        "makeups_owed": len(result.makeups_owed),
        "reflections_required": result.reflections_required,
        "reflections_accepted": result.reflections_accepted,
        "complete": result.complete,
        "possible": result.possible,
        "unmet": completion_text.unmet(result),
        "blockers": completion_text.blockers(result),
        # Once the case is closed, sessions still ahead are no part of his record.
        "sessions": [
            _session_row(line)
            for line in result.lines
            if open_case or line.attendance is not None or line.past
        ],
    }


def _session_row(line: completion.SessionLine) -> dict:
    session = line.session
    mark = line.attendance
    notes = []
    if not line.counts and mark is None:
        attendance = _("Before enrollment")
        notes.append(_("Held before his enrollment began; does not count."))
    elif mark is None:
        attendance = _("Not marked yet") if line.past else _("Scheduled")
    else:
        attendance = line.status.label
        if line.status is AttendanceStatus.MADE_UP and mark.linked_attendance is not None:
            other = mark.linked_attendance.session
            notes.append(
                _(
                    "Made up at %(cohort)s, session %(num)d, %(date)s.",
                    cohort=other.cohort.name,
                    num=other.number,
                    date=_session_day(other),
                )
            )
        if line.missed_as is not None:
            notes.append(_("First marked: %(status)s.", status=line.missed_as.label))
    if line.owes_makeup:
        notes.append(_("Make-up owed."))
    return {
        "number": session.number,
        "title": session.module.title,
        "date": _session_day(session),
        "attendance": attendance,
        "hours": f"{line.minutes / 60:.1f}" if mark is not None else "",
        "credited": line.credited,
        "note": " ".join(notes),
    }


def _session_day(session) -> str:
    return format_date(session.scheduled_at, session.cohort.timezone)


def _contacts_and_recommendation(enrollment: Enrollment) -> dict:
    """What a notice or termination report tells the court beyond the record: how the
    program tried to reach him, what it recommends, and whether he may enroll again."""

    reenroll = {True: _("Yes"), False: _("No")}.get(enrollment.may_reenroll, _("Not stated"))
    return {
        "contacts": [
            {"date": format_date(c.on), "method": c.method_label, "outcome": c.outcome}
            for c in contacts_for(enrollment)
        ],
        "recommendation": str(RECOMMENDATIONS[enrollment.recommendation or "none"]),
        "recommendation_text": enrollment.recommendation_text,
        "may_reenroll": reenroll,
    }


def _notice_facts(notice: CourtDocument, result: completion.Completion) -> dict:
    enrollment = notice.enrollment
    policy = effective_policy(enrollment)
    rule = notice.rule
    breach = next((b for b in result.breaches if b.rule == rule), None)
    absent_like = absence_statuses(policy)
    absences = []
    for line in result.lines:
        did = line.did
        if line.counts and did in absent_like:
            absences.append(
                {
                    "number": line.session.number,
                    "date": _session_day(line.session),
                    "marked": did.label,
                    "now": _("Made up")
                    if line.status is AttendanceStatus.MADE_UP
                    else _("Not made up"),
                }
            )
    # Where he actually was: for a make-up, the other cohort's session he attended.
    attended = [
        line.attendance.linked_attendance.session
        if line.status is AttendanceStatus.MADE_UP and line.attendance.linked_attendance
        else line.session
        for line in result.lines
        if line.credited
    ]
    last = max(attended, key=lambda s: s.scheduled_at, default=None)
    return {
        "rule_text": _rule_text(rule, policy, enrollment),
        # Written when the notice was drafted, in the court's language then (notices.py).
        "finding": notice.reason,
        # The day the rule was first broken, while the breach stands; else the day drafted.
        "violation_date": _day(breach.since if breach else notice.created_at, enrollment),
        "drafted_on": _day(notice.created_at, enrollment),
        "due_on": _day(notice.due_on, enrollment) if notice.due_on else "",
        "absence_rows": absences,
        "last_attended": _session_day(last) if last else _("None"),
        "days_without_attendance": result.days_without_attendance,
        "notice_rule": rule,
    }


def _rule_text(rule: str, policy: dict, enrollment: Enrollment) -> str:
    """The rule a notice is about, as the court reads it, with the limit that applied to this
    case (the program's policy or the court's own order)."""
    limit = policy.get(rule)
    if rule == "completion_deadline" and enrollment.completion_deadline:
        date = _day(enrollment.completion_deadline, enrollment)
        return _("Completion deadline: every requirement met by %(date)s.", date=date)
    if not isinstance(limit, int):
        return rule
    if rule == "max_absences":
        return ngettext(
            "Absences: no more than %(num)d absence from required sessions.",
            "Absences: no more than %(num)d absences from required sessions.",
            limit,
        )
    if rule == "max_consecutive_absences":
        return ngettext(
            "Consecutive absences: no more than %(num)d absence in a row.",
            "Consecutive absences: no more than %(num)d absences in a row.",
            limit,
        )
    if rule == "max_gap_days":
        return ngettext(
            "Regular attendance: no more than %(num)d day without attending a session.",
            "Regular attendance: no more than %(num)d days without attending a session.",
            limit,
        )
    return rule
