"""The clerk's bulk downloads: his court's documents of a date range as one zip, streamed as it
is written, and his court's cases as CSV."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import csv_safety
from ..extensions import db
from ..models import Certificate, Court, CourtDocument, DocumentKind, Enrollment
from ..services import completion
from ..services import documents as document_service

MANIFEST_COLUMNS = (
    "file",
    "case_number",
    "participant",
    "kind",
    "number",
    "date",
    "status",
    "sha256",
    "completed_on",
)
CASE_COLUMNS = (
    "case_number",
    "participant",
    "referral_type",
    "referral_date",
    "completion_deadline",
    "status",
    "sessions_credited",
    "sessions_required",
    "reflections_accepted",
    "reflections_required",
    "certificate_number",
    "certificate_status",
    # The day the last requirement was met, which is not the certificate's issue date.
    "completed_on",
    "certificate_issued_on",
    # Who he is beyond his name, for matching the court's own record; appended so that
    # importers reading the earlier columns by position keep working.
    "date_of_birth",
    "court_person_number",
)


@dataclass(frozen=True)
class ExportItem:
    """One PDF of the zip, described without its bytes (they are loaded one at a time)."""

    model: type[Certificate] | type[CourtDocument]
    id: int
    file: str  # the name inside the zip
    case_number: str
    participant: str
    kind: str
    number: str  # the certificate's or the document's number
    moment: datetime  # issued or generated, in the court's time
    status: str
    sha256: str
    completed_on: str = ""  # certificates: the day the last requirement was met

    def manifest_row(self) -> list:
        return [
            self.file,
            self.case_number,
            self.participant,
            self.kind,
            self.number,
            self.moment.date().isoformat(),
            self.status,
            self.sha256,
            self.completed_on,
        ]


def _utc_bounds(court: Court, start: date, end: date) -> tuple[datetime, datetime]:
    """Start of `start` to the end of `end`, as the court's calendar has them."""
    tz = ZoneInfo(court.timezone)
    low = datetime.combine(start, time.min, tzinfo=tz).astimezone(UTC)
    high = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
    return low, high


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "case"


def _document_status(doc: CourtDocument, tz: ZoneInfo) -> str:
    if doc.kind is not DocumentKind.NONCOMPLIANCE_NOTICE:
        return "issued"
    if doc.sent_at is None:
        return "not sent" + (f", due {doc.due_on.isoformat()}" if doc.due_on else "")
    sent = doc.sent_at.astimezone(tz).date().isoformat()
    return f"sent {sent}" + (f" by {doc.sent_method}" if doc.sent_method else "")


def export_items(court: Court, start: date, end: date) -> list[ExportItem]:
    """His court's certificates (every status) issued, and its court documents generated,
    from `start` to `end` inclusive, oldest first."""
    tz = ZoneInfo(court.timezone)
    low, high = _utc_bounds(court, start, end)
    return _certificate_items(court, low, high, tz) + _document_items(court, low, high, tz)


def _certificate_items(
    court: Court, low: datetime, high: datetime, tz: ZoneInfo
) -> list[ExportItem]:
    """The court's certificates issued from `low` to before `high`, oldest first."""
    certificates = db.session.scalars(
        select(Certificate)
        .join(Enrollment, Certificate.enrollment_id == Enrollment.id)
        .where(
            Enrollment.court_id == court.id,
            Certificate.issued_at >= low,
            Certificate.issued_at < high,
        )
        .options(selectinload(Certificate.enrollment).selectinload(Enrollment.participant))
        .order_by(Certificate.issued_at, Certificate.id)
    ).all()
    return [
        ExportItem(
            model=Certificate,
            id=cert.id,
            file=f"certificates/{_safe_name(cert.number)}-{cert.status.value}.pdf",
            case_number=cert.enrollment.case_number,
            participant=cert.enrollment.participant.full_name,
            kind="certificate",
            number=cert.number,
            moment=cert.issued_at.astimezone(tz),
            status=cert.status.value,
            sha256=cert.sha256,
            completed_on=cert.completion_day(court.timezone).isoformat(),
        )
        for cert in certificates
    ]


def _document_items(court: Court, low: datetime, high: datetime, tz: ZoneInfo) -> list[ExportItem]:
    """The court's documents with a PDF generated from `low` to before `high`, oldest first,
    each under its number within its case."""
    documents = db.session.scalars(
        select(CourtDocument)
        .join(Enrollment, CourtDocument.enrollment_id == Enrollment.id)
        .where(
            Enrollment.court_id == court.id,
            CourtDocument.sha256.is_not(None),  # drafts without a PDF have nothing to send
            CourtDocument.generated_at >= low,
            CourtDocument.generated_at < high,
        )
        .options(selectinload(CourtDocument.enrollment).selectinload(Enrollment.participant))
        .order_by(CourtDocument.generated_at, CourtDocument.id)
    ).all()
    items = []
    numbers: dict[int, dict[int, str]] = {}  # per case: document id -> its number
    for doc in documents:
        if doc.enrollment_id not in numbers:
            numbers[doc.enrollment_id] = document_service.numbers_for(doc.enrollment)
        number = numbers[doc.enrollment_id][doc.id]
        items.append(
            ExportItem(
                model=CourtDocument,
                id=doc.id,
                file=f"documents/{doc.kind.value.replace('_', '-')}-{_safe_name(number)}.pdf",
                case_number=doc.enrollment.case_number,
                participant=doc.enrollment.participant.full_name,
                kind=doc.kind.value,
                number=number,
                moment=doc.generated_at.astimezone(tz),
                status=_document_status(doc, tz),
                sha256=doc.sha256 or "",
            )
        )
    return items


def manifest_csv(items: Iterable[ExportItem]) -> bytes:
    return _csv([MANIFEST_COLUMNS, *(item.manifest_row() for item in items)])


class _ChunkBuffer:
    """What zipfile writes into: it has no tell() or seek(), so zipfile streams (sizes go in
    data descriptors after each file), and it keeps only what was written since take()."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


def _entry(name: str, moment: datetime) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=moment.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _stored_pdf(item: ExportItem) -> bytes:
    """One PDF's stored bytes, read alone: never all the documents in memory at once."""
    data = db.session.scalar(select(item.model.pdf).where(item.model.id == item.id))
    return data or b""


def stream_zip(items: list[ExportItem], created: datetime) -> Iterator[bytes]:
    """The zip, chunk by chunk as it is written: the manifest, then each PDF."""
    buffer = _ChunkBuffer()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_entry("manifest.csv", created), manifest_csv(items))
        yield buffer.take()
        for item in items:
            archive.writestr(_entry(item.file, item.moment), _stored_pdf(item))
            yield buffer.take()
    yield buffer.take()  # the central directory, written on close


def _latest_certificate(enrollment: Enrollment) -> Certificate | None:
    return enrollment.valid_certificate or (
        enrollment.certificates[-1] if enrollment.certificates else None
    )


def cases_csv(enrollments: Iterable[Enrollment]) -> bytes:
    """One row per case: status and counts from the completion engine, never reflection text.
    In English whatever the clerk reads: court systems import the file, so it is a format."""
    rows: list[list] = [list(CASE_COLUMNS)]
    with force_locale("en"):
        for enrollment in enrollments:
            rows.append(_case_row(enrollment))
    return _csv(rows)


def _case_row(enrollment: Enrollment) -> list:
    result = completion.evaluate(enrollment)
    cert = _latest_certificate(enrollment)
    tz = enrollment.court.timezone
    completed_on = cert.completion_day(tz) if cert else result.completed_on
    return [
        enrollment.case_number,
        enrollment.participant.full_name,
        enrollment.referral_type.label,
        enrollment.referral_date.isoformat(),
        enrollment.completion_deadline.isoformat() if enrollment.completion_deadline else "",
        enrollment.state.label,
        result.sessions_credited,
        result.sessions_required,
        result.reflections_accepted,
        result.reflections_required,
        cert.number if cert else "",
        cert.status.value if cert else "",
        completed_on.isoformat() if completed_on else "",
        cert.issued_at.astimezone(ZoneInfo(tz)).date().isoformat() if cert else "",
        enrollment.date_of_birth.isoformat() if enrollment.date_of_birth else "",
        enrollment.court_person_number,
    ]


def _csv(rows: Iterable[Iterable]) -> bytes:
    return csv_safety.write(rows).encode("utf-8")
