"""Bulk writing for the scale data: rows queued per table with their ids handed out before
insert, flushed parent first, and audit events chained with the audit service's digest."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

from sqlalchemy import bindparam, func, insert, select, text, update

from ..extensions import db
from ..models import (
    Attendance,
    AttendanceChange,
    AuditEvent,
    Cohort,
    Court,
    Enrollment,
    EnrollmentTransition,
    Meeting,
    Reflection,
    ReflectionAttempt,
    Review,
    User,
    cohort_facilitators,
)
from ..services import audit

BATCH = 5000
# Rows per commit: fewer, larger transactions rewrite the same index pages less often.
COMMIT_ROWS = 100_000
# Order of the tables for a flush: every row's parents go in before it.
TABLES = [
    User.__table__,
    Court.__table__,
    Cohort.__table__,
    cohort_facilitators,
    Meeting.__table__,
    Enrollment.__table__,
    EnrollmentTransition.__table__,
    Attendance.__table__,
    AttendanceChange.__table__,
    Reflection.__table__,
    ReflectionAttempt.__table__,
    Review.__table__,
    AuditEvent.__table__,
]


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
