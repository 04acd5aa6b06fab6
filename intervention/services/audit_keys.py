"""The keys that protect the audit log, kept outside the database: the chain's HMAC key, and
the Ed25519 key that signs checkpoints with its public key in a .pub file beside it."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import current_app

MIN_KEY_BYTES = 32


class AuditKeyError(RuntimeError):
    """A key the audit log needs is missing or unreadable; the message says what to do."""


def _cache() -> dict:
    return current_app.extensions.setdefault("audit_keys", {})


def _create_once(path: Path, data: bytes) -> None:
    """Write a new secret file readable by its owner only, unless another process got there
    first: written beside, then linked into place, so nobody ever reads half a key and two
    workers starting together agree on one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)


def chain_key() -> bytes:
    """The HMAC key of the chain: INTERVENTION_AUDIT_KEY, else the key file, which
    development and tests make on first use and production must be given (config.py)."""
    config = current_app.config
    source = (
        ("env", config["AUDIT_KEY"]) if config["AUDIT_KEY"] else ("file", config["AUDIT_KEY_FILE"])
    )
    cached = _cache().get(source)
    if cached is not None:
        return cached
    if config["AUDIT_KEY"]:
        key = config["AUDIT_KEY"].encode()
    else:
        path = Path(config["AUDIT_KEY_FILE"])
        if not path.exists() and config["AUDIT_KEY_CREATE"]:
            _create_once(path, secrets.token_hex(32).encode() + b"\n")
        try:
            key = path.read_bytes().strip()
        except OSError as exc:
            raise AuditKeyError(
                f"The audit key file {path} cannot be read ({exc.strerror}). "
                "Set INTERVENTION_AUDIT_KEY or INTERVENTION_AUDIT_KEY_FILE."
            ) from exc
    if len(key) < MIN_KEY_BYTES:
        raise AuditKeyError(
            f"The audit key is shorter than {MIN_KEY_BYTES} bytes; use a longer one."
        )
    _cache()[source] = key
    return key


def _signing_path() -> Path:
    return Path(current_app.config["AUDIT_SIGNING_KEY_FILE"])


def public_key_path() -> Path:
    return _signing_path().with_suffix(".pub")


def signing_key() -> Ed25519PrivateKey:
    """The checkpoint signing key, made on first use (any environment: losing it loses no
    evidence, since the public key of every checkpoint written so far stays beside it)."""
    path = _signing_path()
    cached = _cache().get(("signing", str(path)))
    if cached is not None:
        return cached
    if not path.exists():
        fresh = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _create_once(path, fresh)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise AuditKeyError(f"The checkpoint signing key {path} cannot be read: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(f"{path} is not an Ed25519 private key.")
    public = public_key_path()
    if not public.exists():
        _create_once(public, _public_pem(key.public_key()))
    _cache()[("signing", str(path))] = key
    return key


def _public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key() -> Ed25519PublicKey:
    """The key checkpoints are checked with: the .pub file, which a verifier may hold
    without the private key; made from the private key when only that exists yet."""
    path = public_key_path()
    if not path.exists():
        signing_key()
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise AuditKeyError(f"The checkpoint public key {path} cannot be read: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyError(f"{path} is not an Ed25519 public key.")
    return key


def key_id(key: Ed25519PublicKey) -> str:
    """A short name for a public key, written in each checkpoint (as a CT log's id is)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]
