"""Append audit events to the hash chain, and check the chain."""

from __future__ import annotations

import hashlib
import json

from flask import has_request_context, request
from sqlalchemy import select, text

from ..extensions import db
from ..models import AuditEvent, User, utcnow

GENESIS = "0" * 64


def _digest(event: AuditEvent) -> str:
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
    event.hash = _digest(event)
    db.session.add(event)
    db.session.flush()
    return event


def verify_chain() -> tuple[bool, AuditEvent | None, int]:
    """Walk the chain in id order; return (ok, first broken event, events checked)."""
    prev = GENESIS
    count = 0
    for event in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        count += 1
        if event.prev_hash != prev or _digest(event) != event.hash:
            return False, event, count
        prev = event.hash
    return True, None, count
