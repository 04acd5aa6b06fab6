"""Settings read from the environment: production unless told otherwise, a development config
and a testing config."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A shorter key can be guessed offline from one signed cookie. 32 bytes is HMAC-SHA256's own
# size and what Flask's documentation makes with secrets.token_hex().
MIN_SECRET_KEY_BYTES = 32
# In development, the key the instance folder keeps, so restarts keep sessions.
SECRET_KEY_FILE = "secret_key"
MAKE_A_KEY = "python3 -c 'import secrets; print(secrets.token_hex(32))'"


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


def environment(overrides: dict) -> str:
    """development, testing or production. Fail safe: anything but an explicit
    INTERVENTION_ENV=development (or testing, for the suite) is production, so a server
    started without the setting (a bare `gunicorn wsgi:app`) gets production's checks."""
    named = os.environ.get("INTERVENTION_ENV", "")
    if overrides.get("TESTING", named == "testing"):
        return "testing"
    return "development" if named == "development" else "production"


def load_config(instance_path: str, overrides: dict | None = None) -> dict:
    """Build the settings dict: environment first, then explicit overrides (tests)."""
    overrides = dict(overrides or {})
    env = environment(overrides)
    testing = env == "testing"
    development = env == "development"
    redis_url = os.environ.get("INTERVENTION_REDIS_URL", "").strip()

    config: dict = {
        "ENV_NAME": env,
        "TESTING": testing,
        "SQLALCHEMY_DATABASE_URI": os.environ.get("INTERVENTION_DATABASE_URL")
        or _default_database_url(instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(
            os.environ.get("INTERVENTION_DATABASE_URL") or ""
        ),
        "CURRICULA_PATH": os.environ.get("INTERVENTION_CURRICULA", str(ROOT / "curricula")),
        # Demo mode lists the demo accounts on the sign-in page: on by default in development,
        # never in production (forced off below, whatever INTERVENTION_DEMO says).
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
    config.update(overrides)
    config["SECRET_KEY"] = _secret_key(env, instance_path, config.get("SECRET_KEY"))
    audit = _audit_settings(instance_path, env, development or testing, testing)
    config.update({key: value for key, value in audit.items() if key not in overrides})
    signing = _signing_settings(env, development or testing)
    config.update({key: value for key, value in signing.items() if key not in overrides})
    if env == "production":
        config["DEMO_MODE"] = False
    return config


def _secret_key(env: str, instance_path: str, given: str | bytes | None) -> str | bytes:
    """Production: the operator's key, long enough, or refuse to start; there is no built-in
    key, since a key in the source signs cookies anyone can forge. Development: a random key
    made once per instance folder. Testing: a random key per process."""
    given = given or os.environ.get("SECRET_KEY") or ""
    if env == "production":
        size = len(given.encode() if isinstance(given, str) else given)
        if not size:
            raise ConfigError(
                "SECRET_KEY is not set. Intervention runs as production unless "
                "INTERVENTION_ENV=development, and production needs a SECRET_KEY of at least "
                f"{MIN_SECRET_KEY_BYTES} random bytes, the same on every server. Make one with "
                f"{MAKE_A_KEY} and set it in the server's environment (for a development "
                "server, set INTERVENTION_ENV=development as `make run` does)."
            )
        if size < MIN_SECRET_KEY_BYTES:
            raise ConfigError(
                f"SECRET_KEY is {size} bytes long; production needs at least "
                f"{MIN_SECRET_KEY_BYTES}. Make one with {MAKE_A_KEY}."
            )
        return given
    if given:
        return given
    if env == "development":
        return _instance_secret_key(Path(instance_path))
    return secrets.token_hex(32)


def _instance_secret_key(instance: Path) -> str:
    """The development key kept in the instance folder (mode 0600), made on first start."""
    path = instance / SECRET_KEY_FILE
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = ""
    if len(key) >= 2 * MIN_SECRET_KEY_BYTES:
        return key
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(MIN_SECRET_KEY_BYTES)
    # Written whole to a temporary file, then linked into place: two processes starting at
    # once (the reloader and its child) agree on whichever key landed first, and neither can
    # read a half-written file. mkstemp creates it readable by its owner only.
    fd, tmp = tempfile.mkstemp(dir=instance, prefix=".secret_key.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            existing = path.read_text().strip()
            if len(existing) >= 2 * MIN_SECRET_KEY_BYTES:
                return existing
            os.replace(tmp, path)  # a truncated or hand-edited file: replace it
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return key


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


def _signing_settings(env: str, local: bool) -> dict:
    """The program's key and X.509 certificate that sign every court document (PAdES).
    Development and tests use the development CA in the instance folder (made on first use,
    or by `flask signing init`); production refuses to start without the program's own: a
    document signed by a made-up key proves nothing to a court."""
    key = os.environ.get("INTERVENTION_SIGNING_KEY", "").strip()
    cert = os.environ.get("INTERVENTION_SIGNING_CERT", "").strip()
    chain = [
        path
        for path in os.environ.get("INTERVENTION_SIGNING_CA_CHAIN", "").split(os.pathsep)
        if path.strip()
    ]
    if bool(key) != bool(cert):
        raise ConfigError(
            "Set both INTERVENTION_SIGNING_KEY and INTERVENTION_SIGNING_CERT (the program's "
            "private key and its X.509 certificate, PEM files), or neither in development."
        )
    if not key and not local:
        raise ConfigError(
            "The signing key is not set. Court documents are signed with the program's key: "
            "set INTERVENTION_SIGNING_KEY and INTERVENTION_SIGNING_CERT to its PEM private key "
            "and X.509 certificate (INTERVENTION_SIGNING_CA_CHAIN to the issuing CA "
            "certificates, separated by ':', and INTERVENTION_SIGNING_KEY_PASSPHRASE if the key "
            f"is encrypted) before starting Intervention with INTERVENTION_ENV={env}."
        )
    for name, path in (("KEY", key), ("CERT", cert), *(("CA_CHAIN", p) for p in chain)):
        if path and not Path(path).is_file():
            raise ConfigError(f"INTERVENTION_SIGNING_{name} names {path}, which does not exist.")
    return {
        "SIGNING_KEY": key or None,
        "SIGNING_CERT": cert or None,
        "SIGNING_CA_CHAIN": chain,
        "SIGNING_KEY_PASSPHRASE": os.environ.get("INTERVENTION_SIGNING_KEY_PASSPHRASE") or None,
        # Only development and tests may make (and use) the development CA.
        "SIGNING_CREATE": local,
    }
