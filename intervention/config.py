"""Settings read from the environment, with a development default and a testing config."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """A setting the app cannot start without is missing or wrong."""


def _default_database_url(instance_path: str) -> str:
    return f"sqlite:///{Path(instance_path) / 'intervention.sqlite3'}"


def _engine_options(url: str) -> dict:
    """A bounded connection pool for PostgreSQL: one connection per gunicorn thread
    (INTERVENTION_DB_POOL_SIZE, default 4 = GUNICORN_THREADS), a few spare for bursts, and
    connections renewed before a server or proxy drops them as idle."""
    options: dict = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        options.update(
            pool_size=int(os.environ.get("INTERVENTION_DB_POOL_SIZE", "4")),
            max_overflow=int(os.environ.get("INTERVENTION_DB_MAX_OVERFLOW", "2")),
            pool_recycle=1800,
            pool_timeout=10,
        )
    return options


def load_config(instance_path: str, overrides: dict | None = None) -> dict:
    """Build the settings dict: environment first, then explicit overrides (tests)."""
    overrides = dict(overrides or {})
    env = os.environ.get("INTERVENTION_ENV", "development")
    testing = bool(overrides.get("TESTING", env == "testing"))
    development = env == "development"
    redis_url = os.environ.get("INTERVENTION_REDIS_URL", "").strip()

    config: dict = {
        "ENV_NAME": "testing" if testing else env,
        "TESTING": testing,
        "SQLALCHEMY_DATABASE_URI": os.environ.get("INTERVENTION_DATABASE_URL")
        or _default_database_url(instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(
            os.environ.get("INTERVENTION_DATABASE_URL") or ""
        ),
        "CURRICULA_PATH": os.environ.get("INTERVENTION_CURRICULA", str(ROOT / "curricula")),
        # Demo mode lists the demo accounts on the sign-in page; never on in production.
        "DEMO_MODE": os.environ.get("INTERVENTION_DEMO", "1" if development else "0") == "1",
        # Absolute base used for links printed on court documents (verify URLs, QR codes).
        "PUBLIC_BASE_URL": os.environ.get("INTERVENTION_PUBLIC_URL", "http://127.0.0.1:5000"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": not (development or testing),
        "REMEMBER_COOKIE_SECURE": not (development or testing),
        "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,
        # Rate limits (Flask-Limiter): off in tests unless a test turns them on.
        "RATE_LIMITS": not testing,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        # If Redis goes away, each worker keeps counting in memory rather than failing.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": bool(redis_url),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Number of reverse proxies in front of the app (INTERVENTION_PROXY_HOPS, e.g. 1 for
        # nginx): their X-Forwarded-For/-Proto are trusted so HTTPS (HSTS, secure cookies)
        # and client addresses (rate limits, audit) are seen correctly. 0 = no proxy.
        "PROXY_HOPS": int(os.environ.get("INTERVENTION_PROXY_HOPS", "0") or 0),
        "VERIFY_RATE_LIMIT": os.environ.get("INTERVENTION_VERIFY_RATE_LIMIT", "30 per minute"),
    }
    secret = os.environ.get("SECRET_KEY") or overrides.get("SECRET_KEY")
    if not secret:
        if not (development or testing):
            raise ConfigError(
                "SECRET_KEY is not set. Set SECRET_KEY to a long random string "
                "(python -c 'import secrets; print(secrets.token_hex(32))') before starting "
                f"Intervention with INTERVENTION_ENV={env}."
            )
        secret = "dev-only-insecure-key"
    config["SECRET_KEY"] = secret
    config.update(_audit_settings(instance_path, env, development or testing, testing))
    config.update(overrides)
    return config


def _audit_settings(instance_path: str, env: str, local: bool, testing: bool) -> dict:
    """Where the audit chain's key, the checkpoint signing key and the checkpoints live: all
    outside the database (services/audit.py explains why). Production names its chain key
    explicitly: a key made up on the spot would be lost with the container, and with it the
    proof that the log is the one written."""
    instance = Path(instance_path)
    key = os.environ.get("INTERVENTION_AUDIT_KEY", "").strip()
    key_file = os.environ.get("INTERVENTION_AUDIT_KEY_FILE", "").strip()
    if key and len(key) < 32:
        raise ConfigError(
            "INTERVENTION_AUDIT_KEY is too short: use at least 32 characters "
            "(python -c 'import secrets; print(secrets.token_hex(32))')."
        )
    if not (key or key_file or local):
        raise ConfigError(
            "The audit key is not set. Set INTERVENTION_AUDIT_KEY to a long random string "
            "(python -c 'import secrets; print(secrets.token_hex(32))'), or "
            "INTERVENTION_AUDIT_KEY_FILE to a file holding one, before starting Intervention "
            f"with INTERVENTION_ENV={env}. Keep it outside the database and back it up: "
            "without it the audit log cannot be verified."
        )
    seconds = os.environ.get("INTERVENTION_AUDIT_CHECKPOINT_SECONDS", "").strip()
    try:
        interval = float(seconds) if seconds else (0.0 if testing else 10.0)
    except ValueError:
        raise ConfigError(
            f"INTERVENTION_AUDIT_CHECKPOINT_SECONDS must be a number of seconds, not {seconds!r}."
        ) from None
    if key_file and not key and not local:
        if not Path(key_file).is_file():
            raise ConfigError(
                f"INTERVENTION_AUDIT_KEY_FILE names {key_file}, which does not exist. "
                "Put the audit key there, or set INTERVENTION_AUDIT_KEY."
            )
        if len(Path(key_file).read_bytes().strip()) < 32:
            raise ConfigError(
                f"The audit key in {key_file} is too short: use at least 32 characters."
            )
    return {
        # The chain's HMAC key; in development and tests a file made on first use.
        "AUDIT_KEY": key or None,
        "AUDIT_KEY_FILE": key_file or str(instance / "audit.key"),
        # Ed25519 private key for checkpoints (made on first use); its public key beside it.
        "AUDIT_SIGNING_KEY_FILE": os.environ.get("INTERVENTION_AUDIT_SIGNING_KEY", "").strip()
        or str(instance / "audit-signing-key.pem"),
        "AUDIT_CHECKPOINTS": os.environ.get("INTERVENTION_AUDIT_CHECKPOINTS", "").strip()
        or str(instance / "audit-checkpoints"),
        # A checkpoint after a commit that added events, at most this often per worker
        # (tests: after every such commit, so each test's tampering meets a checkpoint).
        "AUDIT_CHECKPOINT_SECONDS": interval,
        # Only development and tests may make the chain key; production must be given one.
        "AUDIT_KEY_CREATE": local,
    }
