"""Append audit events to the hash chain, seal them with the audit key, anchor the chain with
signed checkpoints, and check all of it.

How it holds. Each event stores the hash of the one before it, so the events form one chain.
The hash is an HMAC-SHA256 under a key kept outside the database (INTERVENTION_AUDIT_KEY, or
a key file: audit_keys.py). Often (after a commit that added events, at most every
AUDIT_CHECKPOINT_SECONDS, and on `flask --app intervention audit checkpoint`) the app signs a
checkpoint, "COUNT events, the last one hashed HEAD", with an Ed25519 key, and appends it to a
folder outside the database (checkpoints.py): the signed tree heads of Certificate
Transparency (RFC 6962), for a chain. `audit verify` walks the chain checking every link and
HMAC, then holds the log against the newest checkpoint: the event at position COUNT must hash
to HEAD; fewer events, or another hash there, means the log was cut or rewritten.

Threat model. Someone who can write to the database but holds neither key (a leaked database
password, an injection, a restored backup edited before it went back, a careless DBA):
  - cannot edit, insert, delete or reorder an event anywhere in the chain, nor append one at
    the end, unnoticed: without the key no new or changed event gets a valid HMAC, and a
    deletion breaks the next event's link;
  - cannot delete the newest events, or all of them, back past the newest checkpoint: the
    checkpoint still counts them;
  - cannot rewrite the chain and recompute the hashes that follow: they are keyed;
  - cannot swap a certificate's or court document's PDF together with its SHA-256 column, nor
    set a revoked certificate back to valid: the issue and revoke events hold the hash and the
    end under the key (certificates.integrity, documents.integrity);
  - can delete the newest events that no checkpoint covers yet: a commit signs one only when
    the last is AUDIT_CHECKPOINT_SECONDS old, so the events of a quiet spell wait for the next
    commit. Run `audit checkpoint` from cron every minute to bound that window to a minute;
  - can read every event (the key gives integrity, not secrecy: events hold ids, not names);
  - can change rows the log only describes (an attendance mark, a case's state) without an
    event; the log then lacks the change rather than lying about it. Certificates and court
    documents are the exception: their bytes are checked against their issue events;
  - can destroy the log (drop the table); that is found, not prevented: keep backups.
Someone with the audit key too (but not the signing key) can forge and rewrite events after
the newest checkpoint, but not rewrite what a checkpoint covers. Someone with both keys and
write access to the checkpoint folder can rewrite everything: copy the checkpoint files to
another machine or write-once storage (as CT's monitors keep tree heads) to be able to prove
it. The keys are backed up apart from the database; lose the audit key and no event verifies.

Events written before the key existed (a database from before this version) carry plain
SHA-256 hashes. `flask --app intervention audit rekey` seals them once: it checks their
unkeyed chain and the newest checkpoint, recomputes every hash under the key, and records an
`audit.rekey` event holding the old head, so a copy or export taken before can be compared.
Whatever was done to those events before the re-keying cannot be told apart by the key.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import time as clock
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace

from flask import current_app, has_app_context, has_request_context, request
from flask_babel import gettext as _
from sqlalchemy import Row, Select, bindparam, func, literal, select, text, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, joinedload

from .. import csv_safety
from ..extensions import db
from ..models import AuditEvent, User, utcnow
from . import ServiceError, audit_keys, checkpoints

GENESIS = "0" * 64
# Pages check the newest events only; the daily `flask --app intervention audit verify` walks all.
PAGE_CHECK_EVENTS = 5000
WALK_BATCH = 2000
# Session.info flags: events were added in this transaction; the head to checkpoint once it
# commits; no automatic checkpoint for this commit (the re-keying anchors the log itself).
_ADDED = "audit_events_added"
_PENDING = "audit_checkpoint_pending"
_SKIP = "audit_checkpoint_skip"


def _payload(event: AuditEvent | Row) -> bytes:
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
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def digest(event: AuditEvent | Row) -> str:
    """The keyed hash of an event (HMAC-SHA256 under the audit key) from its fields and its
    predecessor's hash. Any object with the AuditEvent attributes will do: a stored row, or
    an event being written in bulk (demo/bulk.py)."""
    return hmac.new(audit_keys.chain_key(), _payload(event), hashlib.sha256).hexdigest()


def unkeyed_digest(event: AuditEvent | Row) -> str:
    """The hash events had before the chain was keyed: only to recognise them (and to re-key
    them once), never accepted as a seal."""
    return hashlib.sha256(_payload(event)).hexdigest()


def _lock_chain() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        # Serialise writers so two events never claim the same predecessor.
        db.session.execute(text("SELECT pg_advisory_xact_lock(727001)"))


def object_type(obj) -> str:
    """What the log calls a record: its class's name in lower case, unless the class keeps
    the name the log has always used (`audit_type`: a Meeting is a "session")."""
    if obj is None:
        return ""
    return getattr(type(obj), "audit_type", None) or type(obj).__name__.lower()


def record(action: str, actor: User | None, obj=None, **details) -> AuditEvent:
    """Add one event, chained to the latest; flushed, committed by the caller's transaction."""
    _lock_chain()
    prev = db.session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    event = AuditEvent(
        at=utcnow(),
        actor_id=actor.id if actor is not None else None,
        action=action,
        object_type=object_type(obj),
        object_id=getattr(obj, "id", None),
        ip_address=(request.remote_addr or "") if has_request_context() else "",
        details=details,
        prev_hash=prev or GENESIS,
    )
    event.hash = digest(event)
    db.session.add(event)
    db.session.flush()
    db.session.info[_ADDED] = True
    return event


def sealed(events) -> list:
    """The events among these whose keyed hash holds: written by the app, unchanged since."""
    return [e for e in events if hmac.compare_digest(digest(e), e.hash)]


@dataclass(frozen=True)
class Integrity:
    """Whether a stored document is, byte for byte, the one its sealed issue event recorded.
    `reason` is a short code for the audit log; `problem` says it in words for staff."""

    intact: bool
    reason: str = ""
    problem: str = ""


def sealed_events_of(object_type: str, object_id: int, actions: tuple[str, ...]) -> list:
    """This object's events of these kinds, oldest first, that carry a valid seal: a forged
    or edited event is ignored, so only what the app itself wrote can vouch for a file."""
    events = db.session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.object_type == object_type,
            AuditEvent.object_id == object_id,
            AuditEvent.action.in_(actions),
        )
        .order_by(AuditEvent.id)
    ).all()
    return sealed(events)


def sealed_events_by_object(object_type: str, actions: tuple[str, ...]) -> dict[int, list]:
    """Every object's sealed events of these kinds, for the daily check of all files."""
    found: dict[int, list] = {}
    rows = db.session.execute(
        select(*AuditEvent.__table__.columns)
        .where(AuditEvent.object_type == object_type, AuditEvent.action.in_(actions))
        .order_by(AuditEvent.id)
    )
    for row in rows:
        if hmac.compare_digest(digest(row), row.hash):
            found.setdefault(row.object_id, []).append(row)
    return found


# --- checking the chain ---------------------------------------------------------------------


@dataclass
class ChainReport:
    """What a check of the chain found. `problem` says in plain words what is wrong;
    `broken` is the first event found wrong, when one event shows it."""

    ok: bool
    checked: int = 0
    broken: Row | None = None
    problem: str = ""
    checkpoint: checkpoints.Checkpoint | None = None
    events: int | None = None  # events in the whole log (full walk only)

    def __iter__(self):
        # Unpacks as the (ok, broken, checked) triple pages and tests have always used.
        return iter((self.ok, self.broken, self.checked))


def _walk(after: int = 0) -> Iterator[Row]:
    """Every event after id `after`, in id order, as plain rows read a batch at a time: nothing
    accumulates in the session, so memory stays flat on a log of millions."""
    while True:
        batch = db.session.execute(
            select(*AuditEvent.__table__.columns)
            .where(AuditEvent.id > after)
            .order_by(AuditEvent.id)
            .limit(WALK_BATCH)
        ).all()
        if not batch:
            return
        yield from batch
        after = batch[-1].id


def _seal_problem(event: Row, prev: str, keyed_before: bool) -> str | None:
    """Why this event does not hold in its place, or None when it does."""
    if event.prev_hash != prev:
        return _(
            "It does not follow the event before it: an event before it was deleted, "
            "or one was inserted."
        )
    if hmac.compare_digest(digest(event), event.hash):
        return None
    if event.hash == unkeyed_digest(event):
        if keyed_before:
            return _(
                "It is not sealed with the audit key: it was written, or rewritten, by "
                "someone without the key."
            )
        return _(
            "It was written before the audit key existed and is not sealed with it. If this "
            "database predates the key, run `flask --app intervention audit rekey` once."
        )
    return _("Its contents no longer match its hash: it was edited after it was written.")


def _anchor() -> tuple[checkpoints.Checkpoint | None, str]:
    """The newest checkpoint, and what is wrong with it if anything."""
    try:
        newest = checkpoints.newest()
    except OSError as exc:
        return None, _(
            "The checkpoint folder %(folder)s cannot be read: %(error)s.",
            folder=checkpoints.folder(),
            error=exc.strerror,
        )
    if newest is not None and not checkpoints.is_genuine(newest):
        return newest, _(
            "The newest checkpoint (%(at)s, %(count)d events) does not carry this "
            "installation's signature: it was forged or damaged.",
            at=newest.at,
            count=newest.count,
        )
    return newest, ""


def _cut(anchor: checkpoints.Checkpoint, remaining: int | None) -> str:
    if remaining is None:
        return _(
            "The log was cut or rewritten: the last event the newest checkpoint (%(at)s, "
            "%(count)d events) vouches for is gone.",
            at=anchor.at,
            count=anchor.count,
        )
    return _(
        "The log was cut: the newest checkpoint (%(at)s) vouches for %(count)d events and "
        "only %(remaining)d remain. Events were deleted from the end, or all of them.",
        at=anchor.at,
        count=anchor.count,
        remaining=remaining,
    )


def _unanchored() -> str:
    return _(
        "No signed checkpoint was found in %(folder)s, so a cut cannot be ruled out. Run "
        "`flask --app intervention audit checkpoint`.",
        folder=checkpoints.folder(),
    )


def verify_chain(last: int | None = None) -> ChainReport:
    """Walk the chain in id order checking every link and seal, then hold it against the
    newest checkpoint.

    With `last`, only the newest `last` events are walked, each against the one before it,
    and the checkpoint's last event is looked up by its hash: a quick check a page can afford
    on a log of millions. The full walk (the CLI's `audit verify`, run daily) also counts
    every event and finds the one at the checkpoint's position."""
    anchor, problem = _anchor()
    if problem:
        return ChainReport(False, problem=problem, checkpoint=anchor)
    after, prev = _window_start(last)
    checked = position = 0
    keyed_before = False
    for event in _walk(after):
        checked += 1
        position += 1
        problem = _seal_problem(event, prev, keyed_before)
        if not problem and last is None and anchor is not None and position == anchor.count:
            problem = _rewritten_before(anchor, event)
        if problem:
            return ChainReport(False, checked, event, problem, anchor)
        keyed_before = True
        prev = event.hash
    report = ChainReport(True, checked, None, "", anchor, position if last is None else None)
    problem = _end_problem(anchor, checked, position, last)
    if problem:
        report.ok, report.problem = False, problem
    return report


def _window_start(last: int | None) -> tuple[int, str]:
    """(id, hash) of the event before the newest `last` (all of them: before the first)."""
    if last is not None:
        window = select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).offset(last)
        before = db.session.execute(window.limit(1)).first()
        if before is not None:
            return before[0], before[1]
    return 0, GENESIS


def _rewritten_before(anchor: checkpoints.Checkpoint, event: Row) -> str:
    """At the checkpoint's position, the event must be the one it recorded."""
    if hmac.compare_digest(event.hash, anchor.head):
        return ""
    return _(
        "It is not the event the newest checkpoint (%(at)s) recorded at position "
        "%(count)d: the log was rewritten up to here.",
        at=anchor.at,
        count=anchor.count,
    )


def _end_problem(
    anchor: checkpoints.Checkpoint | None, checked: int, position: int, last: int | None
) -> str:
    """What the end of the walk says against the checkpoint: events without one, or fewer
    events than it counted (the end was cut), or, for a window, its last event gone."""
    if anchor is None:
        return _unanchored() if checked else ""
    if last is None:
        return _cut(anchor, position) if position < anchor.count else ""
    if anchor.count and _position_of(anchor.head) is None:
        return _cut(anchor, None)
    return ""


def _position_of(head: str) -> int | None:
    """The id of the event with this hash (hashes are unique), if it is still in the log."""
    return db.session.scalar(select(AuditEvent.id).where(AuditEvent.hash == head))


# --- checkpoints: written after commits, on demand, and after a restore --------------------


class CheckpointRefused(Exception):
    """The log no longer holds what the newest checkpoint says; signing it would bless a cut."""


def _head(session: Session) -> tuple[int, str]:
    """(count, head) of the log as this session sees it, counted on from the newest
    checkpoint when its last event is still there (an index range, not a full count), in
    one statement: it runs in the commit of any request that added events."""
    newest = checkpoints.newest()
    if newest is None or not newest.count:
        since = literal(0)
    else:
        since = select(AuditEvent.id).where(AuditEvent.hash == newest.head).scalar_subquery()
    added = select(func.count()).select_from(AuditEvent).where(AuditEvent.id > since)
    last = select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    row = session.execute(
        select(
            since.label("since"),
            added.scalar_subquery().label("added"),
            last.scalar_subquery().label("head"),
        )
    ).one()
    if row.since is None:
        raise CheckpointRefused(_cut(newest, None))
    return (newest.count if newest else 0) + row.added, row.head or GENESIS


def checkpoint() -> checkpoints.Checkpoint:
    """Sign and store a checkpoint of the log as committed now (`audit checkpoint`)."""
    count, head = _head(db.session)
    signed = checkpoints.sign(count, head)
    checkpoints.write(signed)
    _mark_written()
    return signed


def reanchor(reason: str) -> tuple[checkpoints.Checkpoint, Path | None]:
    """After the log was legitimately replaced (a restore, the re-keying): set the old
    checkpoints aside, kept, and sign the log as it now stands."""
    moved = checkpoints.archive(reason)
    count = db.session.scalar(select(func.count()).select_from(AuditEvent))
    head = db.session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    signed = checkpoints.sign(count, head or GENESIS)
    checkpoints.write(signed)
    return signed, moved


def _checkpoint_due() -> bool:
    """At most one automatic checkpoint per AUDIT_CHECKPOINT_SECONDS per worker and folder,
    counted from the last checkpoint this worker wrote, automatic or explicit."""
    last = _last_written().get(str(checkpoints.folder()))
    now = clock.monotonic()
    if last is not None and now - last < current_app.config["AUDIT_CHECKPOINT_SECONDS"]:
        return False
    _mark_written()
    return True


def _last_written() -> dict[str, float]:
    return current_app.extensions.setdefault("audit_checkpoint_times", {})


def _mark_written() -> None:
    _last_written()[str(checkpoints.folder())] = clock.monotonic()


def _before_commit(session: Session) -> None:
    """Read the head while the transaction (and on PostgreSQL the chain's lock) is held;
    sign only once the commit succeeded, so no checkpoint names a head that never was."""
    added = session.info.pop(_ADDED, False)
    if session.info.pop(_SKIP, False) or not added or not has_app_context():
        return
    if not _checkpoint_due():
        return
    try:
        session.info[_PENDING] = _head(session)
    except CheckpointRefused as exc:
        current_app.logger.error("Audit checkpoint not written: %s", exc)


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending is None or not has_app_context():
        return
    try:
        checkpoints.write(checkpoints.sign(*pending))
    except Exception:  # the commit stands; a missing checkpoint shows on the next verify
        current_app.logger.exception("Audit checkpoint not written")


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _after_soft_rollback(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # the whole transaction, not a savepoint
        session.info.pop(_ADDED, None)
        session.info.pop(_PENDING, None)


def register(_app) -> None:
    """Checkpoint after commits that added events, in every session of the process."""
    for name, listener in (
        ("before_commit", _before_commit),
        ("after_commit", _after_commit),
        ("after_rollback", _after_rollback),
        ("after_soft_rollback", _after_soft_rollback),
    ):
        if not sa_event.contains(Session, name, listener):
            sa_event.listen(Session, name, listener)


# --- re-keying a chain written before the key existed ----------------------------------------


@dataclass
class Rekeyed:
    events: int  # in the log before the re-keying
    unkeyed: int  # of which were sealed only with plain SHA-256
    old_head: str


def rekey(actor: User | None = None) -> Rekeyed:
    """Seal events written before the key existed: once, and only a chain that checks out
    as it stands (an unkeyed start, keyed after) and against the newest checkpoint.
    Flushed, with its `audit.rekey` event; the caller commits, then calls reanchor()."""
    _lock_chain()
    anchor, problem = _anchor()
    if problem:
        raise ServiceError(problem)
    prev, position, unkeyed, keyed_before = GENESIS, 0, 0, False
    unkeyed_head = GENESIS
    for event in _walk():
        position += 1
        if event.prev_hash != prev:
            raise ServiceError(
                _(
                    "Event #%(id)s: %(problem)s",
                    id=event.id,
                    problem=_seal_problem(event, prev, True),
                )
            )
        if hmac.compare_digest(digest(event), event.hash):
            keyed_before = True
        elif event.hash == unkeyed_digest(event) and not keyed_before:
            unkeyed += 1
            unkeyed_head = event.hash
        else:
            problem = _seal_problem(event, prev, keyed_before)
            raise ServiceError(_("Event #%(id)s: %(problem)s", id=event.id, problem=problem))
        if anchor is not None and position == anchor.count and event.hash != anchor.head:
            raise ServiceError(_cut(anchor, None))
        prev = event.hash
    if anchor is not None and position < anchor.count:
        raise ServiceError(_cut(anchor, position))
    if not unkeyed:
        raise ServiceError(
            _("Every event is already sealed with the audit key; nothing to re-key.")
        )
    old_head, prev, batch = prev, GENESIS, []
    for event in _walk():
        resealed = SimpleNamespace(**(event._asdict() | {"prev_hash": prev}))
        batch.append({"b_id": event.id, "b_prev": prev, "b_hash": digest(resealed)})
        prev = batch[-1]["b_hash"]
        if len(batch) >= WALK_BATCH:
            _rewrite(batch)
            batch = []
    _rewrite(batch)
    db.session.info[_SKIP] = True
    record(
        "audit.rekey",
        actor,
        events=position,
        unkeyed=unkeyed,
        unkeyed_head=unkeyed_head,
        old_head=old_head,
    )
    return Rekeyed(position, unkeyed, old_head)


def _rewrite(batch: list[dict]) -> None:
    if not batch:
        return
    table = AuditEvent.__table__
    db.session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(prev_hash=bindparam("b_prev"), hash=bindparam("b_hash")),
        batch,
    )


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

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text_ = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text_

    writer.writerow(CSV_COLUMNS)
    yield csv_safety.BOM + flush()
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
            writer.writerow([csv_safety.safe_cell(cell) for cell in row])
        last_id = events[-1].id
        yield flush()
