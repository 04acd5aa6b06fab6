"""The audit chain holds against someone who can write to the database but has neither the
audit key nor the checkpoint signing key: every way of cutting or rewriting it is found."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from intervention.extensions import db
from intervention.models import AuditEvent, Certificate, CertificateStatus, Role
from intervention.services import ServiceError, audit, audit_keys, checkpoints
from intervention.services import certificates as certificate_service
from intervention.services import documents as document_service

from .conftest import csrf_token, login
from .helpers import events, forge_event, raw_sql, text_of

ROOT = Path(__file__).resolve().parent.parent


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


def _events() -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)))


# Each tampering returns the id of the event `audit verify` must name (None: a cut, which no
# single event shows) and a phrase its report must contain.


def edit_a_field(chain):
    raw_sql("UPDATE audit_events SET action = 'test.innocent' WHERE id = :id", id=chain[2].id)
    return chain[2].id, "edited"


def edit_the_actor(chain):
    raw_sql("UPDATE audit_events SET actor_id = NULL WHERE id = :id", id=chain[3].id)
    return chain[3].id, "edited"


def edit_the_details(chain):
    """A rewritten reason (a revocation's, an attendance change's) lives in `details`."""
    event = db.session.get(AuditEvent, chain[3].id)
    event.details = {**event.details, "reason": "rewritten after the fact"}
    db.session.flush()
    db.session.expire_all()
    return chain[3].id, "edited"


def delete_one_in_the_middle(chain):
    raw_sql("DELETE FROM audit_events WHERE id = :id", id=chain[1].id)
    return chain[2].id, "does not follow"


def insert_one_in_the_middle(chain):
    """Later events renumbered to make room, a forged one spliced in hashed onto event 1."""
    spot = chain[2].id
    for event in reversed(chain[2:]):
        raw_sql("UPDATE audit_events SET id = :new WHERE id = :old", new=event.id + 1, old=event.id)
    forge_event(spot, chain[1].hash, hash_with=attacker_hash)
    return spot, "not sealed with the audit key"


def delete_the_last_events(chain):
    raw_sql("DELETE FROM audit_events WHERE id >= :id", id=chain[3].id)
    return None, "cut"


def delete_every_event(chain):
    raw_sql("DELETE FROM audit_events")
    return None, "cut"


def append_a_forged_event(chain):
    forge_event(chain[-1].id + 1, chain[-1].hash, hash_with=attacker_hash)
    return chain[-1].id + 1, "not sealed with the audit key"


def edit_and_recompute_every_later_hash(chain):
    raw_sql("UPDATE audit_events SET action = 'test.innocent' WHERE id = :id", id=chain[1].id)
    prev = None
    for row in _events():
        if row.id < chain[1].id:
            prev = row.hash
            continue
        new = attacker_hash(
            type("Row", (), {**{c: getattr(row, c) for c in _FIELDS}, "prev_hash": prev})
        )
        raw_sql(
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
    edit_the_actor,
    edit_the_details,
    delete_one_in_the_middle,
    insert_one_in_the_middle,
    delete_the_last_events,
    delete_every_event,
    append_a_forged_event,
    edit_and_recompute_every_later_hash,
]


@pytest.fixture
def director(client, make_user):
    admin = make_user(Role.ADMIN, email="director@test.example")
    login(client, admin)
    return admin


@pytest.fixture
def chain(make_user):
    """Five events, committed as any request commits them."""
    actor = make_user(Role.ADMIN)
    recorded = [audit.record("test.event", actor, actor, n=n) for n in range(5)]
    db.session.commit()
    ok, broken, _count = audit.verify_chain()
    assert ok and broken is None
    return recorded


@pytest.mark.parametrize("tamper", TAMPERINGS, ids=lambda f: f.__name__)
def test_every_way_of_cutting_or_rewriting_the_chain_is_found(chain, runner, tamper):
    named, phrase = tamper(chain)
    ok, broken, count = audit.verify_chain()
    assert ok is False
    if named is not None:
        assert broken is not None and broken.id == named
        # The walk stopped at the broken one: the events up to it were checked, no more.
        assert count == sum(1 for event in _events() if event.id <= named)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1, result.output
    assert phrase in result.output


# --- certificates and court documents: the stored bytes against the sealed issue event ---------


FORGED = b"%PDF-1.7\n% a certificate nobody issued\n%%EOF\n"


def replace_the_pdf_and_its_hash(cert) -> bytes:
    """What an attacker with database access did: a forged file, and its hash to match."""
    raw_sql(
        "UPDATE certificates SET pdf = :pdf, sha256 = :sha WHERE id = :id",
        pdf=FORGED,
        sha=hashlib.sha256(FORGED).hexdigest(),
        id=cert.id,
    )
    return FORGED


def _verify(client, method: str, cert, data: bytes):
    if method == "upload":
        return client.post(
            "/verify",
            data={
                "csrf_token": csrf_token(client, "/verify"),
                "code": "",
                "pdf": (io.BytesIO(data), "certificate.pdf"),
            },
            content_type="multipart/form-data",
        )
    if method == "code":
        token = csrf_token(client, "/verify")
        return client.post("/verify", data={"csrf_token": token, "code": cert.verification_code})
    return client.get(f"/verify/{cert.verification_code}")


def _incidents() -> list[AuditEvent]:
    return events("certificate.integrity_failure")


@pytest.mark.parametrize("method", ["upload", "code", "link"])
def test_a_forged_certificate_file_is_not_confirmed_to_the_public(client, issued, method):
    number, genuine = issued.number, issued.sha256
    forged = replace_the_pdf_and_its_hash(issued)
    response = _verify(client, method, issued, forged)
    page = text_of(response)
    assert "This certificate cannot be confirmed" in page
    assert "Valid" not in page and "is valid" not in page
    assert "Daniel Carter" not in page  # nothing from a record that no longer holds
    [incident] = _incidents()
    assert incident.object_id == issued.id and incident.actor_id is None
    assert incident.details == {
        "number": number,
        "reason": "pdf_changed",
        "method": method,
        "stored_sha256": hashlib.sha256(forged).hexdigest(),
    }
    assert genuine not in page


def test_the_genuine_certificate_is_still_valid(client, issued):
    for method in ("upload", "code", "link"):
        page = text_of(_verify(client, method, issued, issued.pdf))
        assert "This certificate is valid" in page
    assert _incidents() == []


def test_a_hash_column_pointed_at_another_file_is_not_confirmed(client, issued):
    """The PDF left alone, only the column the upload is looked up by changed."""
    raw_sql(
        "UPDATE certificates SET sha256 = :sha WHERE id = :id",
        sha=hashlib.sha256(FORGED).hexdigest(),
        id=issued.id,
    )
    page = text_of(_verify(client, "upload", issued, FORGED))
    assert "This certificate cannot be confirmed" in page
    assert [i.details["reason"] for i in _incidents()] == ["hash_changed"]


def test_a_revoked_certificate_set_back_to_valid_is_not_confirmed(client, issued, make_user):
    certificate_service.revoke(issued, make_user(Role.ADMIN), "Issued to the wrong case.")
    db.session.commit()
    raw_sql("UPDATE certificates SET status = 'valid' WHERE id = :id", id=issued.id)
    assert db.session.get(Certificate, issued.id).status is CertificateStatus.VALID
    page = text_of(_verify(client, "link", issued, b""))
    assert "This certificate cannot be confirmed" in page
    assert [i.details["reason"] for i in _incidents()] == ["status_changed"]


def test_audit_verify_reports_a_certificate_whose_bytes_changed(issued, runner):
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "Certificates checked against their issue events: 1." in result.output
    replace_the_pdf_and_its_hash(issued)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"Certificate {issued.number} (#{issued.id}) cannot be confirmed" in result.output
    assert "not the one issued" in result.output


def test_audit_verify_reports_a_court_document_whose_bytes_changed(issued, runner):
    report = document_service.progress_report(issued.enrollment, issued.issued_by)
    db.session.commit()
    assert document_service.integrity(report).intact
    raw_sql(
        "UPDATE court_documents SET pdf = :pdf, sha256 = :sha WHERE id = :id",
        pdf=FORGED,
        sha=hashlib.sha256(FORGED).hexdigest(),
        id=report.id,
    )
    assert document_service.integrity(report).reason == "pdf_changed"
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"Court document (#{report.id}) cannot be confirmed" in result.output
    assert "Court documents checked against their issue events: 1." in result.output


# --- the checkpoints themselves --------------------------------------------------------------


def _lines() -> list[dict]:
    return [
        json.loads(line)
        for path in sorted(checkpoints.folder().glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def test_a_commit_that_adds_events_writes_a_signed_checkpoint(director):
    before = len(_lines())
    recorded = [audit.record("test.event", director, None, n=n) for n in range(3)]
    assert len(_lines()) == before  # flushed, not committed: nothing vouched for yet
    db.session.commit()
    newest = checkpoints.newest()
    assert len(_lines()) == before + 1
    assert newest.head == recorded[-1].hash
    assert newest.count == db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    assert checkpoints.is_genuine(newest)
    db.session.commit()  # nothing new: no checkpoint
    assert len(_lines()) == before + 1


def test_a_rolled_back_transaction_leaves_no_checkpoint(director):
    before = len(_lines())
    audit.record("test.event", director, None)
    db.session.rollback()
    db.session.commit()
    assert len(_lines()) == before


def test_checkpoints_are_written_at_most_every_n_seconds(app, director, tmp_path):
    app.config.update(AUDIT_CHECKPOINT_SECONDS=3600, AUDIT_CHECKPOINTS=str(tmp_path))
    try:
        for n in range(3):
            audit.record("test.event", director, None, n=n)
            db.session.commit()
        assert len(_lines()) == 1  # the first commit's; the next two fell inside the hour
    finally:
        app.config["AUDIT_CHECKPOINT_SECONDS"] = 0


def test_a_checkpoint_with_a_changed_count_is_refused(chain, runner):
    path = sorted(checkpoints.folder().glob("*.jsonl"))[-1]
    lines = path.read_text().splitlines()
    forged = json.loads(lines[-1]) | {"count": 2}
    path.write_text("\n".join([*lines[:-1], json.dumps(forged)]) + "\n")
    report = audit.verify_chain()
    assert not report.ok and "forged or damaged" in report.problem
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "forged or damaged" in result.output


def test_no_checkpoint_at_all_is_reported(chain):
    for path in checkpoints.folder().glob("*.jsonl"):
        path.unlink()
    report = audit.verify_chain()
    assert report.ok is False
    assert report.problem == (
        f"No signed checkpoint was found in {checkpoints.folder()}, so a cut cannot be ruled "
        "out. Run `flask --app intervention audit checkpoint`."
    )


def test_a_rewrite_with_the_audit_key_is_still_caught_by_the_checkpoint(chain):
    """Someone holding the chain key but not the signing key re-seals a rewritten chain."""
    raw_sql("UPDATE audit_events SET action = 'test.innocent' WHERE id = :id", id=chain[1].id)
    prev = None
    for row in _events():
        if row.id >= chain[1].id:
            row.prev_hash = prev
            row.hash = audit.digest(row)
        prev = row.hash
    db.session.flush()
    db.session.expire_all()
    report = audit.verify_chain()
    assert not report.ok
    assert report.broken.id == chain[-1].id
    assert "rewritten" in report.problem
    assert not audit.verify_chain(last=3).ok  # the page's check looks the head up by hash


def test_a_cut_is_not_blessed_by_the_next_checkpoint(chain, director, runner):
    """Events deleted from the end, then more written: the app refuses to sign the result."""
    newest = checkpoints.newest()
    raw_sql("DELETE FROM audit_events WHERE id >= :id", id=chain[3].id)
    for n in range(4):
        audit.record("test.after", director, None, n=n)
    db.session.commit()
    assert checkpoints.newest() == newest
    report = audit.verify_chain()
    assert not report.ok and "rewritten" in report.problem
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 1 and "Checkpoint refused" in result.output


def test_an_empty_log_without_a_checkpoint_verifies(runner):
    raw_sql("DELETE FROM audit_events")
    for path in checkpoints.folder().glob("*.jsonl"):
        path.unlink()
    assert audit.verify_chain().ok
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "Audit chain intact: 0 event(s)" in result.output


def test_the_checkpoint_command_signs_the_log_as_it_stands(chain, runner):
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    count = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    assert f"Checkpoint signed: {count} event(s)" in result.output
    assert checkpoints.newest().head == chain[-1].hash


def test_the_admin_pages_say_the_log_was_cut(client, director):
    recorded = [audit.record("test.event", director, None, n=n) for n in range(3)]
    db.session.commit()
    raw_sql("DELETE FROM audit_events WHERE id >= :id", id=recorded[1].id)
    for url in ("/admin/audit", "/admin/"):
        page = text_of(client.get(url))
        assert "Chain broken" in page
        assert "The log was cut or rewritten" in page


# --- events from before the key: sealed once ----------------------------------------------------


def _unkey_every_event() -> None:
    """The log as a database from before this version holds it: plain SHA-256 hashes."""
    prev = audit.GENESIS
    for row in _events():
        row.prev_hash = prev
        row.hash = prev = attacker_hash(row)
    db.session.flush()
    db.session.expire_all()
    for path in checkpoints.folder().glob("*.jsonl"):
        path.unlink()


def test_events_from_before_the_key_are_sealed_once_by_rekey(chain, director, runner):
    _unkey_every_event()
    old_head = _events()[-1].hash
    report = audit.verify_chain()
    assert not report.ok and "audit rekey" in report.problem
    # The app kept running with the key: new events are keyed, chained onto the old ones.
    audit.record("test.after_upgrade", director, None)
    db.session.commit()
    assert not audit.verify_chain().ok
    total = len(_events())
    head_before = _events()[-1].hash

    result = runner.invoke(args=["audit", "rekey"])
    assert result.exit_code == 0, result.output
    assert f"Re-keyed {total} event(s) ({total - 1} written before the key)" in result.output
    assert "Earlier checkpoints kept in" in result.output
    report = audit.verify_chain()
    assert report.ok, report.problem
    rekey = _events()[-1]
    assert rekey.action == "audit.rekey"
    assert rekey.details["unkeyed"] == total - 1 and rekey.details["unkeyed_head"] == old_head
    assert rekey.details["events"] == total and rekey.details["old_head"] == head_before
    assert checkpoints.newest().head == rekey.hash

    again = runner.invoke(args=["audit", "rekey"])
    assert again.exit_code == 1 and "nothing to re-key" in again.output


def test_rekey_refuses_a_chain_that_was_broken_before_it(chain, runner):
    _unkey_every_event()
    raw_sql("UPDATE audit_events SET action = 'test.innocent' WHERE id = :id", id=chain[2].id)
    result = runner.invoke(args=["audit", "rekey"])
    assert result.exit_code == 1
    assert f"Not re-keyed: Event #{chain[2].id}: Its contents no longer match" in result.output
    assert not audit.verify_chain().ok


def test_rekey_by_the_director_names_her_and_says_what_it_sealed(chain, director):
    _unkey_every_event()
    before = _events()
    done = audit.rekey(director)
    assert (done.events, done.unkeyed, done.old_head) == (len(before), len(before), before[-1].hash)
    event = _events()[-1]
    assert (event.action, event.actor_id) == ("audit.rekey", director.id)


def test_rekey_refuses_a_chain_with_an_event_deleted_before_it(chain, runner):
    _unkey_every_event()
    raw_sql("DELETE FROM audit_events WHERE id = :id", id=chain[1].id)
    result = runner.invoke(args=["audit", "rekey"])
    assert result.exit_code == 1
    assert (
        f"Not re-keyed: Event #{chain[2].id}: It does not follow the event before it: an "
        "event before it was deleted, or one was inserted." in " ".join(result.output.split())
    )


def test_rekey_refuses_a_forged_unkeyed_event_after_keyed_ones(chain, runner):
    append_a_forged_event(chain)
    result = runner.invoke(args=["audit", "rekey"])
    assert result.exit_code == 1 and "not sealed with the audit key" in result.output


# --- keys -------------------------------------------------------------------------------------


def test_development_makes_its_keys_on_first_use_readable_by_the_owner_only(app, tmp_path):
    saved = {k: app.config[k] for k in ("AUDIT_KEY_FILE", "AUDIT_SIGNING_KEY_FILE")}
    app.config.update(
        AUDIT_KEY_FILE=str(tmp_path / "audit.key"),
        AUDIT_SIGNING_KEY_FILE=str(tmp_path / "signing.pem"),
    )
    app.extensions.pop("audit_keys", None)
    try:
        key = audit_keys.chain_key()
        assert len(key) == 64 and (tmp_path / "audit.key").read_bytes().strip() == key
        assert audit_keys.chain_key() == key
        audit_keys.signing_key()
        for name in ("audit.key", "signing.pem"):
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "signing.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    finally:
        app.config.update(saved)
        app.extensions.pop("audit_keys", None)


def test_another_key_seals_nothing(app, chain):
    """The same log checked with a different key: not one event holds."""
    app.config["AUDIT_KEY"] = "another key, at least thirty-two characters long"
    try:
        report = audit.verify_chain()
        assert not report.ok and "edited" in report.problem
    finally:
        app.config["AUDIT_KEY"] = None


# --- a real installation: demo data, a backup, a restore ------------------------------------


def _flask(*args: str, instance, check: bool = True):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INTERVENTION_", "FLASK_"))}
    env.update(INTERVENTION_INSTANCE=str(instance), INTERVENTION_ENV="development")
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "intervention", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_a_restore_sets_the_later_checkpoints_aside_and_anchors_the_restored_log(tmp_path):
    instance = tmp_path / "live"
    for command in (["db", "upgrade"], ["curriculum", "sync"], ["seed-demo"]):
        _flask(*command, instance=instance)
    verified = _flask("audit", "verify", instance=instance)
    assert "Audit chain intact" in verified.stdout
    assert "Certificates checked against their issue events: 1." in verified.stdout
    for name in ("audit.key", "audit-signing-key.pem"):
        assert (instance / name).stat().st_mode & 0o777 == 0o600  # made on first use
    assert (instance / "audit-signing-key.pub").exists()

    _flask("backup", str(tmp_path / "night.sqlite3"), instance=instance)
    _flask("retention", "apply", instance=instance)  # one more event, and its checkpoint
    _flask("audit", "verify", instance=instance)

    restored = _flask("restore", "--force", str(tmp_path / "night.sqlite3"), instance=instance)
    assert "Audit checkpoints from before the restore kept in" in restored.stdout
    kept = list((instance / "audit-checkpoints" / "archived").glob("*-restore/*.jsonl"))
    assert kept
    assert "Audit chain intact" in _flask("audit", "verify", instance=instance).stdout


def test_register_hooks_checkpoints_to_every_session_once(app):
    from sqlalchemy import event as sa_event
    from sqlalchemy.orm import Session

    hooks = {
        "before_commit": audit._before_commit,
        "after_commit": audit._after_commit,
        "after_rollback": audit._after_rollback,
        "after_soft_rollback": audit._after_soft_rollback,
    }
    try:
        for name, listener in hooks.items():
            sa_event.remove(Session, name, listener)
        assert not any(sa_event.contains(Session, n, f) for n, f in hooks.items())
        audit.register(app)
        audit.register(app)  # a second app in the same process adds nothing
        for name, listener in hooks.items():
            assert sa_event.contains(Session, name, listener), name
            sa_event.remove(Session, name, listener)  # once: a second would raise
            assert not sa_event.contains(Session, name, listener), name
    finally:
        audit.register(app)


def test_an_unreadable_checkpoint_folder_is_named_with_the_reason(chain):
    (checkpoints.folder() / "9999-12-31.jsonl").mkdir()  # the newest "file" cannot be read
    report = audit.verify_chain()
    assert report.ok is False
    assert report.problem == (
        f"The checkpoint folder {checkpoints.folder()} cannot be read: Is a directory."
    )


def test_the_daily_check_reads_every_certificate_across_batches(make_enrollment, make_user):
    """More certificates than one batch (100): each is checked once, in order, and those with
    a sealed issue event hold while one without is flagged."""
    enrollment = make_enrollment()
    admin = make_user(Role.ADMIN)
    made = []
    for n in range(205):
        pdf = f"%PDF-1.7 stand-in {n}".encode()
        cert = Certificate(
            enrollment=enrollment,
            number=f"BATCH-2026-{n:04d}",
            verification_code=f"BATCHCODE{n:07d}",
            version=enrollment.cohort.version,
            issued_by=admin,
            pdf=pdf,
            sha256=hashlib.sha256(pdf).hexdigest(),
            status=CertificateStatus.SUPERSEDED,
        )
        db.session.add(cert)
        db.session.flush()
        if n != 150:  # one was slipped in without its sealed issue event
            audit.record("certificate.issue", admin, cert, number=cert.number, sha256=cert.sha256)
        made.append(cert.id)
    db.session.commit()
    seen = [(cert.id, result.intact) for cert, result in certificate_service.check_all()]
    assert [cert_id for cert_id, _ in seen] == made
    assert [cert_id for cert_id, intact in seen if not intact] == [made[150]]


@pytest.mark.parametrize("cut", ["deleted", "replaced"])
def test_rekey_refuses_a_log_cut_since_its_checkpoint_word_for_word(chain, cut):
    _unkey_every_event()
    anchor = audit.checkpoint()  # vouches for the unkeyed log as it stands
    last = _events()[-1]
    if cut == "deleted":
        raw_sql("DELETE FROM audit_events WHERE id = :id", id=last.id)
        expected = (
            f"The log was cut: the newest checkpoint ({anchor.at}) vouches for "
            f"{anchor.count} events and only {anchor.count - 1} remain. Events were deleted "
            "from the end, or all of them."
        )
    else:  # the last event rewritten and re-hashed as an unkeyed one, so the chain holds
        raw_sql("UPDATE audit_events SET action = 'test.innocent' WHERE id = :id", id=last.id)
        row = _events()[-1]
        raw_sql("UPDATE audit_events SET hash = :h WHERE id = :id", h=attacker_hash(row), id=row.id)
        expected = (
            f"The log was cut or rewritten: the last event the newest checkpoint "
            f"({anchor.at}, {anchor.count} events) vouches for is gone."
        )
    with pytest.raises(ServiceError) as refused:
        audit.rekey()
    assert str(refused.value) == expected


def test_rekey_reseals_a_log_longer_than_one_batch(chain, director, monkeypatch):
    monkeypatch.setattr(audit, "WALK_BATCH", 2)  # the log here is a few batches long
    _unkey_every_event()
    audit.rekey(director)
    db.session.commit()
    audit.reanchor("test")
    db.session.commit()
    report = audit.verify_chain()
    assert report.ok, report.problem


def test_reanchoring_sets_the_old_checkpoints_aside_named_for_why(chain):
    audit.checkpoint()  # a checkpoint of the log as it was
    signed, moved = audit.reanchor("restore")
    assert moved is not None and moved.parent.name == "archived"
    assert moved.name.endswith("-restore") and list(moved.glob("*.jsonl"))
    assert audit.verify_chain().checkpoint.head == signed.head
