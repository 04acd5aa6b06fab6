"""The audit chain holds against someone who can write to the database but has neither the
audit key nor the checkpoint signing key: every way of cutting or rewriting it is found."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from intervention.extensions import db
from intervention.models import AuditEvent, Role
from intervention.services import audit


def _raw(sql: str, **params) -> None:
    db.session.execute(sa.text(sql), params)
    db.session.expire_all()


def attacker_hash(row) -> str:
    """What someone reading the source can compute without the key: the SHA-256 of the
    event's canonical fields, the chain's hash before it was keyed."""
    payload = {
        "at": row.at.isoformat(),
        "actor_id": row.actor_id,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "ip_address": row.ip_address,
        "details": row.details,
        "prev_hash": row.prev_hash,
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _insert(event_id: int, prev_hash: str, **fields) -> None:
    row = AuditEvent(
        at=datetime.now(UTC).replace(microsecond=0),
        actor_id=None,
        action=fields.get("action", "certificate.revoke"),
        object_type="certificate",
        object_id=1,
        ip_address="",
        details={"reason": "forged"},
        prev_hash=prev_hash,
    )
    _raw(
        "INSERT INTO audit_events (id, at, actor_id, action, object_type, object_id,"
        " ip_address, details, prev_hash, hash) VALUES (:id, :at, NULL, :action, :type,"
        " :object_id, '', :details, :prev, :hash)",
        id=event_id,
        at=row.at.replace(tzinfo=None),
        action=row.action,
        type=row.object_type,
        object_id=row.object_id,
        details=json.dumps(row.details),
        prev=prev_hash,
        hash=attacker_hash(row),
    )


def _events() -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)))


# Each tampering returns the id of the event `audit verify` must name (None: a cut, which no
# single event shows) and a phrase its report must contain.


def edit_a_field(chain):
    _raw("UPDATE audit_events SET action = 'test.innocent' WHERE id = :id", id=chain[2].id)
    return chain[2].id, "edited"


def edit_the_details(chain):
    _raw("UPDATE audit_events SET actor_id = NULL WHERE id = :id", id=chain[3].id)
    return chain[3].id, "edited"


def delete_one_in_the_middle(chain):
    _raw("DELETE FROM audit_events WHERE id = :id", id=chain[1].id)
    return chain[2].id, "does not follow"


def insert_one_in_the_middle(chain):
    """Later events renumbered to make room, a forged one spliced in hashed onto event 1."""
    spot = chain[2].id
    for event in reversed(chain[2:]):
        _raw("UPDATE audit_events SET id = :new WHERE id = :old", new=event.id + 1, old=event.id)
    _insert(spot, chain[1].hash)
    return spot, "not sealed with the audit key"


def delete_the_last_events(chain):
    _raw("DELETE FROM audit_events WHERE id >= :id", id=chain[3].id)
    return None, "cut"


def delete_every_event(chain):
    _raw("DELETE FROM audit_events")
    return None, "cut"


def append_a_forged_event(chain):
    _insert(chain[-1].id + 1, chain[-1].hash)
    return chain[-1].id + 1, "not sealed with the audit key"


def edit_and_recompute_every_later_hash(chain):
    _raw("UPDATE audit_events SET action = 'test.innocent' WHERE id = :id", id=chain[1].id)
    prev = None
    for row in _events():
        if row.id < chain[1].id:
            prev = row.hash
            continue
        new = attacker_hash(
            type("Row", (), {**{c: getattr(row, c) for c in _FIELDS}, "prev_hash": prev})
        )
        _raw(
            "UPDATE audit_events SET prev_hash = :prev, hash = :hash WHERE id = :id",
            prev=prev,
            hash=new,
            id=row.id,
        )
        prev = new
    return chain[1].id, "not sealed with the audit key"


_FIELDS = ("at", "actor_id", "action", "object_type", "object_id", "ip_address", "details")

TAMPERINGS = [
    edit_a_field,
    edit_the_details,
    delete_one_in_the_middle,
    insert_one_in_the_middle,
    delete_the_last_events,
    delete_every_event,
    append_a_forged_event,
    edit_and_recompute_every_later_hash,
]


@pytest.fixture
def chain(make_user):
    """Five events, committed as any request commits them."""
    actor = make_user(Role.ADMIN)
    events = [audit.record("test.event", actor, actor, n=n) for n in range(5)]
    db.session.commit()
    ok, broken, _count = audit.verify_chain()
    assert ok and broken is None
    return events


@pytest.mark.parametrize("tamper", TAMPERINGS, ids=lambda f: f.__name__)
def test_every_way_of_cutting_or_rewriting_the_chain_is_found(chain, runner, tamper):
    named, phrase = tamper(chain)
    ok, broken, _count = audit.verify_chain()
    assert not ok
    if named is not None:
        assert broken is not None and broken.id == named
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1, result.output
    assert phrase in result.output
