"""Attendance as CSV: exports of a cohort and of one man's record, and the import of a paper
roster for one session, checked row by row and applied all or nothing."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from .. import csv_safety
from ..inputs import TEXT_CONTROLS, has_control
from ..models import (
    Attendance,
    AttendanceStatus,
    Cohort,
    Enrollment,
    Meeting,
    SessionStatus,
    User,
)
from ..names import without_bidi_controls
from . import ServiceError, audit, completion, completion_text
from .attendance import (
    RosterRefused,
    RosterRow,
    default_minutes,
    kept_with_makeup,
    mark_roster,
    roster,
    session_closed_reason,
    session_marks,
)

MAX_IMPORT_BYTES = 1_000_000
MAX_IMPORT_ROWS = 500
IMPORT_COLUMNS = ("case_number", "status", "minutes", "note", "reason")
REQUIRED_COLUMNS = ("case_number", "status")
# Columns of our own exports that an import reads past, so an export can come back edited.
EXPORT_ONLY_COLUMNS = ("participant", "session_number", "date", "recorded_by", "recorded_at")
COHORT_COLUMNS = (
    "case_number",
    "participant",
    "session_number",
    "date",
    "status",
    "minutes",
    "note",
    "recorded_by",
    "recorded_at",
)
ROSTER_COLUMNS = ("case_number", "participant", "status", "minutes", "note", "reason")
# The two tables of a man's record, under its summary.
RECORD_ATTENDANCE_COLUMNS = (
    "session_number",
    "date",
    "status",
    "minutes",
    "credited",
    "counts",
    "note",
    "recorded_by",
    "recorded_at",
    "made_up_at",
)
RECORD_HISTORY_COLUMNS = (
    "session_number",
    "session_cohort",
    "date",
    "changed_at",
    "changed_by",
    "from_status",
    "from_minutes",
    "to_status",
    "to_minutes",
    "reason",
)
IMPORTABLE = [s for s in AttendanceStatus if s is not AttendanceStatus.MADE_UP]


def _write(rows: list[list]) -> str:
    return csv_safety.write(rows)


def _when(moment, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds") if moment else ""


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "export"


# --- exports ------------------------------------------------------------------------------


def cohort_csv(cohort: Cohort, actor: User) -> tuple[str, str]:
    """(filename, text): one row per man and session of the cohort."""
    rows: list[list] = [list(COHORT_COLUMNS)]
    tz = cohort.timezone
    for enrollment in sorted(cohort.enrollments, key=lambda e: e.participant.full_name):
        marks = {a.session_id: a for a in enrollment.attendance}
        for session in cohort.sessions:
            record = marks.get(session.id)
            status = record.status.value if record else ""
            if session.status is SessionStatus.CANCELLED:
                status = status or "cancelled"
            rows.append(
                [
                    enrollment.case_number,
                    enrollment.participant.full_name,
                    session.number,
                    session.local_date.isoformat(),
                    status,
                    record.minutes_credited if record else "",
                    record.note if record else "",
                    record.recorded_by.full_name if record else "",
                    _when(record.recorded_at, tz) if record else "",
                ]
            )
    audit.record("attendance.export", actor, cohort, rows=len(rows) - 1)
    return f"attendance-{slug(cohort.name)}.csv", _write(rows)


def session_csv(session: Meeting, actor: User) -> tuple[str, str]:
    """(filename, text): the session's roster in the import's columns, to fill in and upload."""
    rows: list[list] = [list(ROSTER_COLUMNS)]
    marks = {a.enrollment_id: a for a in session_marks(session)}
    for enrollment in roster(session):
        record = marks.get(enrollment.id)
        rows.append(
            [
                enrollment.case_number,
                enrollment.participant.full_name,
                record.status.value if record else "",
                record.minutes_credited if record else "",
                record.note if record else "",
                "",
            ]
        )
    audit.record("attendance.export", actor, session, rows=len(rows) - 1)
    day = session.local_date.isoformat()
    return f"roster-{slug(session.cohort.name)}-session-{session.number}-{day}.csv", _write(rows)


def record_csv(enrollment: Enrollment, actor: User) -> tuple[str, str]:
    """(filename, text): his attendance, every change of it, and where his case stands.
    States and counts only: never the words of his reflections."""
    result = completion.evaluate(enrollment)
    tz = enrollment.cohort.timezone
    rows: list[list] = [
        ["Summary"],
        ["field", "value"],
        *_case_fields(enrollment),
        *_completion_fields(result),
        [],
        ["Attendance"],
        list(RECORD_ATTENDANCE_COLUMNS),
        *[_attendance_row(line, tz) for line in result.lines],
        [],
        ["History"],
        list(RECORD_HISTORY_COLUMNS),
        *_history_rows(enrollment, tz),
    ]
    audit.record("case.export", actor, enrollment)
    return f"record-{slug(enrollment.case_number)}.csv", _write(rows)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _case_fields(enrollment: Enrollment) -> list[list]:
    """The summary's rows about the case itself: who, which court and cohort, which dates."""
    deadline = enrollment.completion_deadline
    return [
        ["case_number", enrollment.case_number],
        ["participant", enrollment.participant.full_name],
        ["court", enrollment.court.name],
        ["program", enrollment.cohort.version.program.title],
        ["curriculum_version", enrollment.cohort.version.label],
        ["cohort", enrollment.cohort.name],
        ["referral_type", enrollment.referral_type.label],
        ["referral_date", enrollment.referral_date.isoformat()],
        ["starts_on", enrollment.starts_on.isoformat()],
        ["completion_deadline", deadline.isoformat() if deadline else ""],
        ["case_status", enrollment.state.value],
    ]


def _completion_fields(result: completion.Completion) -> list[list]:
    """The summary's rows about where he stands: counts, what is still owed, any violation."""
    return [
        ["sessions_required", result.sessions_required],
        ["sessions_credited", result.sessions_credited],
        ["hours_credited", f"{result.hours_credited:.1f}"],
        ["absences", result.absences],
        ["makeups_owed", len(result.makeups_owed)],
        ["reflections_required", result.reflections_required],
        ["reflections_accepted", result.reflections_accepted],
        ["complete", _yes(result.complete)],
        ["completion_possible", _yes(result.possible)],
        *[["still_owed", item] for item in completion_text.unmet(result)],
        *[["violation", item] for item in completion_text.violations(result)],
    ]


def _attendance_row(line: completion.SessionLine, tz: str) -> list:
    """One session of his cohort as the record's attendance shows it."""
    record = line.attendance
    return [
        line.session.number,
        line.session.local_date.isoformat(),
        line.status.value if line.status else "",
        line.minutes if record else "",
        _yes(line.credited),
        _yes(line.counts),
        record.note if record else "",
        record.recorded_by.full_name if record else "",
        _when(record.recorded_at, tz) if record else "",
        _made_up_at(record),
    ]


def _made_up_at(record: Attendance | None) -> str:
    """Where he made the session up ("cohort, date"), or "" if he did not."""
    if record is None or record.linked_attendance is None:
        return ""
    other = record.linked_attendance.session
    return f"{other.cohort.name}, {other.local_date.isoformat()}"


def _history_rows(enrollment: Enrollment, tz: str) -> list[list]:
    """Every change of every mark of his, session by session in the order they were held."""
    records = sorted(
        enrollment.attendance, key=lambda a: (a.session.scheduled_at, a.session.cohort_id)
    )
    return [
        [
            record.session.number,
            record.session.cohort.name,
            record.session.local_date.isoformat(),
            _when(change.at, tz),
            change.actor.full_name,
            change.from_status.value if change.from_status else "",
            "" if change.from_minutes is None else change.from_minutes,
            change.to_status.value,
            change.to_minutes,
            change.reason,
        ]
        for record in records
        for change in record.history
    ]


# --- import -------------------------------------------------------------------------------


class RosterImportError(ServiceError):
    """Every problem found in the file, each as 'line N: message'."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def _at(line: int, problem: str) -> str:
    """One problem of the file, where it is: "line 3: the case number is empty." """
    return _("line %(line)d: %(problem)s", line=line, problem=problem)


@dataclass
class ImportResult:
    rows: int  # rows with a status
    changed: int  # marks recorded or changed
    enrollments: list[Enrollment]
    drafted: list  # the non-compliance notices the new marks drafted


@dataclass
class _Row:
    line: int
    enrollment: Enrollment
    status: AttendanceStatus
    minutes: int
    note: str
    reason: str


@dataclass
class _Roster:
    """What each row of one file is checked against: the session, its length and day, the
    cohort's enrollments by case number, the session's marks now, and the line each
    enrollment was first named on."""

    session: Meeting
    duration: int
    day: date
    cohort_cases: dict[str, list[Enrollment]]
    current: dict[int, Attendance]
    seen: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, session: Meeting) -> _Roster:
        cohort_cases: dict[str, list[Enrollment]] = {}
        for e in session.cohort.enrollments:
            cohort_cases.setdefault(e.case_number.strip().upper(), []).append(e)
        return cls(
            session=session,
            duration=session.module.duration_minutes,
            day=session.local_date,
            cohort_cases=cohort_cases,
            current={a.enrollment_id: a for a in session_marks(session)},
        )


def _status(text: str) -> AttendanceStatus | None:
    key = re.sub(r"[\s\-]+", "_", text.strip().lower())
    return next((s for s in IMPORTABLE if key in (s.value, s.label.lower())), None)


def _decode(data: bytes) -> str:
    if not data.strip():
        raise RosterImportError([_at(1, _("the file is empty."))])
    if len(data) > MAX_IMPORT_BYTES:
        size = MAX_IMPORT_BYTES // 1_000_000
        raise RosterImportError([_at(1, _("the file is larger than %(mb)d MB.", mb=size))])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problem = _("the file is not UTF-8 text; save it as 'CSV UTF-8' and try again.")
        raise RosterImportError([_at(line, problem)]) from None


def _read_header(reader: Iterator[list[str]]) -> list[str]:
    """The file's first line as column names (trimmed, lower case; "" for a blank one); raise
    RosterImportError if a required column is missing, one is unknown or one is named twice."""
    try:
        header = next(reader, [])
    except csv.Error as exc:
        raise RosterImportError([_at(1, f"{exc}.")]) from None
    columns = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    unknown = [c for c in columns if c and c not in IMPORT_COLUMNS + EXPORT_ONLY_COLUMNS]
    if missing or unknown:
        raise RosterImportError([_at(1, _header_problem(missing, unknown))])
    named = [c for c in columns if c]
    if len(set(named)) != len(named):
        raise RosterImportError([_at(1, _("a column is named twice."))])
    return columns


def _header_problem(missing: list[str], unknown: list[str]) -> str:
    """What is wrong with the header's names, and what the first line must be."""
    problems = []
    if missing:
        problems.append(_("missing column(s) %(names)s", names=", ".join(missing)))
    if unknown:
        problems.append(_("unknown column(s) %(names)s", names=", ".join(unknown)))
    return _(
        "%(problems)s. The first line must be: %(header)s.",
        problems="; ".join(problems),
        header=",".join(IMPORT_COLUMNS),
    )


def read_roster(session: Meeting, data: bytes) -> list[_Row]:
    """Check every row of the file; raise RosterImportError listing every problem found."""
    reader = csv.reader(io.StringIO(_decode(data), newline=""))
    columns = _read_header(reader)
    roster = _Roster.of(session)
    errors: list[str] = []
    rows: list[_Row] = []
    count = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(_at(reader.line_num, f"{exc}."))
            break
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        count += 1
        if count > MAX_IMPORT_ROWS:
            problem = _("more than %(max)d rows; split the file.", max=MAX_IMPORT_ROWS)
            errors.append(_at(line, problem))
            break
        row, problems = _check_row(roster, columns, line, cells)
        errors += problems
        if row is not None:
            rows.append(row)
    if not count and not errors:
        errors.append(_at(2, _("the file has no rows under its header.")))
    if errors:
        raise RosterImportError(errors)
    return rows


def _check_row(
    roster: _Roster, columns: list[str], line: int, cells: list[str]
) -> tuple[_Row | None, list[str]]:
    """One filled row of the file: the mark it records, or None and its problems, each as
    'line N: message'. A row without a status has neither: his mark stays as it is."""
    if len(cells) > len(columns):
        problem = _(
            "%(cells)d cells but only %(columns)d columns.",
            cells=len(cells),
            columns=len(columns),
        )
        return None, [_at(line, problem)]
    cell = _cells(columns, cells)
    problems: list[str] = []
    enrollment = _enrollment(roster, cell.get("case_number", ""), line, problems)
    _check_session_number(roster.session, cell.get("session_number", ""), problems)
    status = _read_status(cell.get("status", ""), problems)
    minutes = _read_minutes(cell.get("minutes", ""), roster.duration, problems)
    _check_text(cell, problems)
    if status is None or enrollment is None or problems:
        return None, [_at(line, p) for p in problems]  # a blank status leaves his mark as it is

    if minutes is None:
        minutes = default_minutes(roster.session, status)
    before = roster.current.get(enrollment.id)
    refused = _refused_change(roster.session, enrollment, before, status, minutes, cell)
    if refused:
        return None, [_at(line, refused)]
    note = cell.get("note", before.note if before else "")
    return _Row(line, enrollment, status, minutes, note, cell.get("reason", "")), []


def _cells(columns: list[str], cells: list[str]) -> dict[str, str]:
    """The row's cells by column name: trimmed, and without the quote an export puts before
    a formula."""
    # Bidirectional controls go from every cell (names.py): in a case number they hide
    # which case a row marks, in a note they reorder what the record shows.
    return {
        name: csv_safety.unquote(without_bidi_controls(value).strip())
        for name, value in zip(columns, cells, strict=False)
    }


def _enrollment(roster: _Roster, case: str, line: int, problems: list[str]) -> Enrollment | None:
    """The one enrollment of the cohort with this case number (an open one before closed
    ones), or None; adds to `problems` why the row cannot mark him."""
    matches = [e for e in roster.cohort_cases.get(case.upper(), []) if e.state.is_open]
    matches = matches or roster.cohort_cases.get(case.upper(), [])
    enrollment = matches[0] if len(matches) == 1 else None
    if not case:
        problems.append(_("the case number is empty."))
    elif not matches:
        problems.append(
            _("case %(case)s is not in %(cohort)s.", case=case, cohort=roster.session.cohort.name)
        )
    elif len(matches) > 1:
        problems.append(
            _("case %(case)s matches more than one open case in this cohort.", case=case)
        )
    if enrollment is not None:
        _check_enrollment(roster, enrollment, case, line, problems)
    return enrollment


def _check_enrollment(
    roster: _Roster, enrollment: Enrollment, case: str, line: int, problems: list[str]
) -> None:
    """He is named once in the file, was enrolled by the session's day, and his case is open.
    Notes the first line that names him."""
    if enrollment.id in roster.seen:
        problems.append(
            _(
                "case %(case)s is already on line %(line)d.",
                case=case,
                line=roster.seen[enrollment.id],
            )
        )
    roster.seen.setdefault(enrollment.id, line)
    if enrollment.starts_on > roster.day:
        problems.append(
            _(
                "%(name)s (%(case)s) was not enrolled yet on %(date)s.",
                name=enrollment.participant.full_name,
                case=case,
                date=roster.day.isoformat(),
            )
        )
    elif not enrollment.state.is_open:
        problems.append(
            _(
                "case %(case)s is %(status)s; it is closed.",
                case=case,
                status=enrollment.state.label.lower(),
            )
        )


def _check_session_number(session: Meeting, number: str, problems: list[str]) -> None:
    """A row of the cohort export names its session: it must be this one."""
    if number and number != str(session.number):
        problems.append(
            _(
                "the row is for session %(number)s, not session %(num)d.",
                number=number,
                num=session.number,
            )
        )


def _read_status(raw_status: str, problems: list[str]) -> AttendanceStatus | None:
    """The status the cell names, or None (blank, or not one an import records)."""
    status = _status(raw_status) if raw_status else None
    if raw_status and status is None:
        if _status_is_made_up(raw_status):
            problems.append(_("made up is recorded with the make-up form, not by import."))
        else:
            allowed = ", ".join(s.value for s in IMPORTABLE)
            problems.append(
                _(
                    "status '%(status)s' is not one of %(allowed)s.",
                    status=raw_status,
                    allowed=allowed,
                )
            )
    return status


def _read_minutes(raw_minutes: str, duration: int, problems: list[str]) -> int | None:
    """The minutes the cell gives, or None when it is blank (the status's default then)."""
    minutes: int | None = None
    if raw_minutes:
        if re.fullmatch(r"\d{1,4}", raw_minutes):
            minutes = int(raw_minutes)
            if minutes > duration:
                problems.append(_("minutes must be between 0 and %(max)d.", max=duration))
        else:
            problems.append(
                _(
                    "minutes '%(minutes)s' is not a whole number from 0 to %(max)d.",
                    minutes=raw_minutes,
                    max=duration,
                )
            )
    return minutes


def _check_text(cell: dict[str, str], problems: list[str]) -> None:
    """Notes and reasons of 500 characters at most; no control character in any cell."""
    if len(cell.get("note", "")) > 500 or len(cell.get("reason", "")) > 500:
        problems.append(_("a note or reason is longer than 500 characters."))
    # A control character is refused (PostgreSQL refuses a NUL); a quoted note may hold
    # line breaks and tabs.
    for name, value in cell.items():
        if has_control(value, TEXT_CONTROLS):
            problems.append(_("the %(column)s cell contains a control character.", column=name))


def _refused_change(
    session: Meeting,
    enrollment: Enrollment,
    before: Attendance | None,
    status: AttendanceStatus,
    minutes: int,
    cell: dict[str, str],
) -> str | None:
    """Why the row may not replace his mark `before`: it is kept with his make-up, or the
    row changes it without a reason. None when it may."""
    if before is None:
        return None
    if before.status is AttendanceStatus.MADE_UP:
        return kept_with_makeup(enrollment, session)
    if (before.status, before.minutes_credited) != (status, minutes) and not cell.get("reason"):
        return _(
            "%(name)s is marked %(status)s (%(minutes)d min); give a reason for the change.",
            name=enrollment.participant.full_name,
            status=before.status.label.lower(),
            minutes=before.minutes_credited,
        )
    return None


def _status_is_made_up(text: str) -> bool:
    return re.sub(r"[\s\-]+", "_", text.strip().lower()) == AttendanceStatus.MADE_UP.value


def import_roster(session: Meeting, data: bytes, actor: User) -> ImportResult:
    """Apply a paper roster for one session: every row valid, or nothing is recorded."""
    closed = session_closed_reason(session)
    if closed:
        raise RosterImportError([closed])
    rows = read_roster(session, data)
    marks = [RosterRow(r.enrollment.id, r.status, r.minutes, r.note, r.reason) for r in rows]
    try:
        result = mark_roster(session, marks, actor)
    except RosterRefused as exc:
        raise RosterImportError(
            [p if i is None else _at(rows[i].line, p) for i, p in exc.problems]
        ) from None
    audit.record("attendance.import", actor, session, rows=len(rows), changed=result.changed)
    return ImportResult(len(rows), result.changed, result.marked, result.drafted)
