"""Signed checkpoints of the audit chain, kept in files outside the database.

A checkpoint says "the log held COUNT events and the last one's hash was HEAD", with the time
and an Ed25519 signature: the signed tree head of Certificate Transparency (RFC 6962, 3.5),
for a hash chain instead of a Merkle tree. One JSON object a line, appended to a file per UTC
day in the checkpoint folder; the newest checkpoint is the one with the highest count."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from flask import current_app

from ..models import utcnow
from . import audit_keys

VERSION = 1
# Checkpoint lines are ~250 bytes; the newest are in the last few KiB of the newest files.
TAIL_BYTES = 64 * 1024


@dataclass(frozen=True)
class Checkpoint:
    count: int  # events in the log, from the first
    head: str  # hash of the event at position `count` (GENESIS for an empty log)
    at: str  # when it was signed, ISO 8601 UTC
    key_id: str  # which signing key (audit_keys.key_id)
    signature: str  # Ed25519 over message(), base64
    v: int = VERSION

    def message(self) -> bytes:
        """The signed bytes: what the checkpoint asserts, in one canonical form."""
        fields = {"v": self.v, "count": self.count, "head": self.head, "at": self.at}
        body = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return b"intervention-audit-checkpoint\n" + body.encode()

    def line(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")) + "\n"


def folder() -> Path:
    return Path(current_app.config["AUDIT_CHECKPOINTS"])


def sign(count: int, head: str) -> Checkpoint:
    key = audit_keys.signing_key()
    unsigned = Checkpoint(
        count=count,
        head=head,
        at=utcnow().isoformat(timespec="microseconds"),
        key_id=audit_keys.key_id(key.public_key()),
        signature="",
    )
    signature = key.sign(unsigned.message())
    return Checkpoint(**{**asdict(unsigned), "signature": base64.b64encode(signature).decode()})


def write(checkpoint: Checkpoint) -> Path:
    """Append one line to the day's file. O_APPEND writes this small are not interleaved, so
    several workers can write side by side; fsync'd, since it vouches for committed data."""
    target = folder() / f"{checkpoint.at[:10]}.jsonl"
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(descriptor, checkpoint.line().encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return target


def _tail(path: Path) -> list[str]:
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - TAIL_BYTES))
        lines = handle.read().decode("utf-8", "replace").splitlines()
    return lines[1:] if size > TAIL_BYTES else lines  # the first may be cut in half


def _parse(line: str) -> Checkpoint | None:
    try:
        data = json.loads(line)
        return Checkpoint(
            count=int(data["count"]),
            head=str(data["head"]),
            at=str(data["at"]),
            key_id=str(data["key_id"]),
            signature=str(data["signature"]),
            v=int(data.get("v", VERSION)),
        )
    except (ValueError, KeyError, TypeError):
        return None  # a line cut short by a crash; the lines around it still count


def newest() -> Checkpoint | None:
    """The checkpoint with the highest count (then the latest), from the two newest day
    files: workers append in the order they finish, which need not be the order of counts."""
    files = sorted(folder().glob("*.jsonl"))[-2:]
    found = [cp for path in files for cp in map(_parse, _tail(path)) if cp is not None]
    return max(found, key=lambda cp: (cp.count, cp.at), default=None)


def is_genuine(checkpoint: Checkpoint) -> bool:
    """Signed by this deployment's checkpoint key (the public key beside the private one)."""
    key = audit_keys.public_key()
    if checkpoint.key_id != audit_keys.key_id(key):
        return False
    try:
        key.verify(base64.b64decode(checkpoint.signature, validate=True), checkpoint.message())
    except (InvalidSignature, ValueError):
        return False
    return True


def archive(reason: str) -> Path | None:
    """Move every checkpoint aside, kept, when the log was legitimately replaced (a restore,
    the one-time re-keying): they describe a log that is no longer the live one."""
    files = sorted(folder().glob("*.jsonl"))
    if not files:
        return None
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    target = folder() / "archived" / f"{stamp}-{reason}"
    target.mkdir(parents=True)
    for path in files:
        path.rename(target / path.name)
    return target
