"""Append audit events to the hash chain, and check the chain."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import has_request_context, request
from sqlalchemy import Row, Select, func, select, text
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import AuditEvent, User, utcnow

GENESIS = "0" * 64
# Pages check the newest events only; the daily `flask --app intervention audit verify` walks all.
PAGE_CHECK_EVENTS = 5000


def digest(event: AuditEvent | Row) -> str:
    """The hash of an event from its fields and its predecessor's hash. Any object with the
    AuditEvent attributes will do: a stored row, or an event being written in bulk."""
    payload = {
        "at": event.at.isoformat(),
        "actor_id": event.actor_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "ip_address": event.ip_address,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def record(action: str, actor: User | None, obj=None, **details) -> AuditEvent:
    """Add one event, chained to the latest; flushed, committed by the caller's transaction."""
    if db.session.get_bind().dialect.name == "postgresql":
        # Serialise writers so two events never claim the same predecessor.
        db.session.execute(text("SELECT pg_advisory_xact_lock(727001)"))
    prev = db.session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    event = AuditEvent(
        at=utcnow(),
        actor_id=actor.id if actor is not None else None,
        action=action,
        object_type=type(obj).__name__.lower() if obj is not None else "",
        object_id=getattr(obj, "id", None),
        ip_address=(request.remote_addr or "") if has_request_context() else "",
        details=details,
        prev_hash=prev or GENESIS,
    )
    event.hash = digest(event)
    db.session.add(event)
    db.session.flush()
    return event


def verify_chain(last: int | None = None) -> tuple[bool, Row | None, int]:
    """Walk the chain in id order; return (ok, first broken event, events checked).

    With `last`, only the newest `last` events are walked, each against the one before it:
    a quick check a page can afford on a log of millions. The full walk (the CLI's `audit
    verify`, run daily) reads the log in batches so memory stays flat."""
    prev = GENESIS
    after = 0
    if last is not None:
        window = select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).offset(last)
        before = db.session.execute(window.limit(1)).first()
        if before is not None:
            after, prev = before
    count = 0
    while True:
        # Plain rows, not ORM objects: nothing accumulates in the session as the walk goes on.
        batch = db.session.execute(
            select(*AuditEvent.__table__.columns)
            .where(AuditEvent.id > after)
            .order_by(AuditEvent.id)
            .limit(2000)
        ).all()
        if not batch:
            return True, None, count
        for event in batch:
            count += 1
            if event.prev_hash != prev or digest(event) != event.hash:
                return False, event, count
            prev = event.hash
        after = batch[-1].id


# --- reading the log: filters for the admin's browser and its CSV export -----------------------

CSV_COLUMNS = (
    "id",
    "at_utc",
    "actor_email",
    "action",
    "object_type",
    "object_id",
    "ip_address",
    "details",
    "hash",
)


@dataclass(frozen=True)
class LogFilter:
    """What the admin asked to see; empty fields match everything."""

    action: str = ""
    actor: str = ""  # part of an email address
    object_type: str = ""
    since: date | None = None  # UTC days, both ends included
    until: date | None = None

    def as_args(self) -> dict[str, str]:
        """The filter as query-string arguments, for pager and export links."""
        args = {
            "action": self.action,
            "actor": self.actor,
            "object_type": self.object_type,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {key: value for key, value in args.items() if value}


def events_query(wanted: LogFilter) -> Select:
    """The matching events, newest first."""
    query = select(AuditEvent).options(joinedload(AuditEvent.actor))
    if wanted.action:
        query = query.where(AuditEvent.action == wanted.action)
    if wanted.object_type:
        query = query.where(AuditEvent.object_type == wanted.object_type)
    if wanted.actor:
        needle = wanted.actor.strip().lower()
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.join(User, AuditEvent.actor_id == User.id).where(
            func.lower(User.email).like(f"%{escaped}%", escape="\\")
        )
    if wanted.since:
        query = query.where(AuditEvent.at >= datetime.combine(wanted.since, time.min, tzinfo=UTC))
    if wanted.until:
        end = datetime.combine(wanted.until + timedelta(days=1), time.min, tzinfo=UTC)
        query = query.where(AuditEvent.at < end)
    return query.order_by(AuditEvent.id.desc())


def actions() -> list[str]:
    return list(
        db.session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action))
    )


def object_types() -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEvent.object_type)
            .where(AuditEvent.object_type != "")
            .distinct()
            .order_by(AuditEvent.object_type)
        )
    )


def details_json(event: AuditEvent) -> str:
    return json.dumps(
        event.details or {}, sort_keys=True, indent=2, ensure_ascii=False, default=str
    )


def csv_lines(query: Select, batch: int = 500) -> Iterator[str]:
    """The events as CSV text, a batch at a time so a long log never sits in memory whole.
    Cells are made formula-safe: an actor's email or a reason typed by someone can start
    with '='."""
    from .rosters import safe_cell  # rosters imports this module

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text_ = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text_

    writer.writerow(CSV_COLUMNS)
    yield "\ufeff" + flush()  # the BOM tells spreadsheets the file is UTF-8
    last_id = None
    while True:
        page = query if last_id is None else query.where(AuditEvent.id < last_id)
        events = db.session.scalars(page.limit(batch)).unique().all()
        if not events:
            return
        for event in events:
            row = [
                event.id,
                event.at.astimezone(UTC).isoformat(timespec="seconds"),
                event.actor.email if event.actor else "",
                event.action,
                event.object_type,
                "" if event.object_id is None else event.object_id,
                event.ip_address,
                json.dumps(event.details or {}, sort_keys=True, ensure_ascii=False, default=str),
                event.hash,
            ]
            writer.writerow([safe_cell(cell) for cell in row])
        last_id = events[-1].id
        yield flush()
