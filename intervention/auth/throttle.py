"""Throttling every password and code check so that a stranger cannot turn it against the
account's owner, and equal work for emails that have no account.

The design follows OWASP's "Slow down online guessing attacks with device cookies"
(Authentication Cheat Sheet) and NIST SP 800-63B 5.2.2 (rate limiting by growing waits):
1. Per address, every attempt at any account: 10 per 15 minutes. One address cannot work
   through many accounts.
2. Per account and address, failures: 5 per 15 minutes. Guessing from one address stops
   there, for that account only: five wrong passwords from five addresses lock no one out.
3. Per account, failures from browsers that are not a known device of the account: the
   first FREE_ACCOUNT_FAILURES in an hour cost nothing; after that each failure makes the
   next try from such a browser wait 5 seconds, then 10, 20, 40, and never more than
   MAX_DELAY_SECONDS. This only slows: guessing from any number of addresses gets about 70
   tries an hour, while the owner on a new browser waits a minute at most. Never a lockout.
4. A known device: after a full sign-in (the password, and the second factor when the account
   has one) his browser keeps a cookie, signed with the app's key, naming the account and a
   random nonce. An attempt at that account from that browser skips 1 to 3 and counts only
   against the device: 5 failures per 15 minutes, then the browser is treated like any other.
   A stranger cannot make one, and one made for his own account does not help with another.
   (Its failures also count per account and address, so a device past its allowance is
   refused there at once rather than given a second one.)
5. Each kind of check counts apart: passwords (signing in, the current password when
   changing it) and second-factor codes (the code step of signing in, turning two-step off,
   and recovery codes or passkeys: call `refusal(email, kind=CODE)` before checking one and
   `count_failure(email, kind=CODE)` after a wrong one). Strangers' wrong passwords never hold
   up the owner's second factor, and the code step, reached only with the right password, is
   not slowed by them.
6. An unknown email costs the same work as a known one: the password is checked against a
   dummy scrypt hash made with the same parameters, so timing does not tell which emails
   have accounts.

Counts live in Flask-Limiter's storage: Redis when INTERVENTION_REDIS_URL is set (every worker
shares them), memory otherwise. Tests turn limits on with RATE_LIMITS.
"""

from __future__ import annotations

import functools
import hashlib
import math
import secrets
import time

from flask import after_this_request, current_app, request
from flask_babel import ngettext
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import parse
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import limiter
from ..models import User

PASSWORD = "password"
CODE = "code"

PER_ADDRESS = parse("10 per 15 minutes")
PER_ACCOUNT_AND_ADDRESS = parse("5 per 15 minutes")
PER_DEVICE = parse("5 per 15 minutes")
ACCOUNT_WINDOW_SECONDS = 60 * 60
FREE_ACCOUNT_FAILURES = 10
FIRST_DELAY_SECONDS = 5
MAX_DELAY_SECONDS = 60

DEVICE_COOKIE = "intervention_device"
DEVICE_SALT = "intervention.known-device"
DEVICE_DAYS = 180
DEVICES_PER_BROWSER = 5  # a shared computer remembers the last few accounts signed in on it


def _limits_on() -> bool:
    return current_app.config.get("RATE_LIMITS", True)


def _account(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def _address() -> str:
    # request.remote_addr: the connection's address, or ProxyFix's reading of X-Forwarded-For
    # behind the configured number of proxies; never the header as the client sent it.
    return request.remote_addr or "unknown"


def _address_key() -> str:
    return f"signin-address/{_address()}"


def _pair_key(kind: str, account: str) -> str:
    return f"signin-pair/{kind}/{account}/{_address()}"


def _device_key(kind: str, account: str, nonce: str) -> str:
    return f"signin-device/{kind}/{account}/{nonce}"


def _failures_key(kind: str, account: str) -> str:
    return f"intervention/signin-account/{kind}/{account}"


def _wait_key(kind: str, account: str, failures: int) -> str:
    return f"intervention/signin-wait/{kind}/{account}/{failures}"


def delay_after(failures: int) -> int:
    """Seconds the next try from an unknown browser waits after this many failures."""
    if failures < FREE_ACCOUNT_FAILURES:
        return 0
    return min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** (failures - FREE_ACCOUNT_FAILURES))


# --- known devices ---------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=DEVICE_SALT)


def _devices() -> list[list[str]]:
    """[account, nonce] pairs this browser proved by signing in; [] when none or forged."""
    value = request.cookies.get(DEVICE_COOKIE)
    if not value:
        return []
    try:
        entries = _serializer().loads(value, max_age=DEVICE_DAYS * 24 * 60 * 60)
    except BadSignature:
        return []
    if not isinstance(entries, list):
        return []
    return [
        e
        for e in entries
        if isinstance(e, list) and len(e) == 2 and all(isinstance(part, str) for part in e)
    ]


def _known_device(account: str) -> str | None:
    return next((nonce for who, nonce in _devices() if who == account), None)


def remember_device(email: str) -> None:
    """After a full sign-in: this browser becomes a known device of the account."""
    account = _account(email)
    kept = [e for e in _devices() if e[0] != account][-(DEVICES_PER_BROWSER - 1) :]
    value = _serializer().dumps([*kept, [account, secrets.token_urlsafe(16)]])

    @after_this_request
    def set_device_cookie(response):
        response.set_cookie(
            DEVICE_COOKIE,
            value,
            max_age=DEVICE_DAYS * 24 * 60 * 60,
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            httponly=True,
            samesite="Lax",
        )
        return response


# --- the checks ------------------------------------------------------------------------------


def _minutes_message(item, key: str) -> str:
    reset_at = limiter.limiter.get_window_stats(item, key).reset_time
    minutes = max(1, math.ceil((reset_at - time.time()) / 60))
    return ngettext(
        "Too many attempts. Try again in %(num)d minute.",
        "Too many attempts. Try again in %(num)d minutes.",
        minutes,
    )


def _seconds_to_wait(kind: str, account: str) -> int:
    storage = limiter.storage
    failures = storage.get(_failures_key(kind, account))
    if not delay_after(failures):
        return 0
    key = _wait_key(kind, account, failures)
    if not storage.get(key):
        return 0
    return max(1, math.ceil(storage.get_expiry(key) - time.time()))


def refusal(email: str | None, kind: str = PASSWORD) -> str | None:
    """The message to show instead of checking a password or code now; None to go on."""
    if not _limits_on():
        return None
    account = _account(email) if email else None
    nonce = _known_device(account) if account else None
    if nonce:
        key = _device_key(kind, account, nonce)
        if limiter.limiter.test(PER_DEVICE, key):
            return None
        # A known device that failed too often is treated like any other browser.
    checks = [(PER_ADDRESS, _address_key())]
    if account:
        checks.append((PER_ACCOUNT_AND_ADDRESS, _pair_key(kind, account)))
    for item, key in checks:
        if not limiter.limiter.test(item, key):
            return _minutes_message(item, key)
    seconds = _seconds_to_wait(kind, account) if account else 0
    if seconds:
        return ngettext(
            "Too many attempts. Try again in %(num)d second.",
            "Too many attempts. Try again in %(num)d seconds.",
            seconds,
        )
    return None


def count_attempt() -> None:
    """Every password or code checked from this address, right or wrong."""
    if _limits_on():
        limiter.limiter.hit(PER_ADDRESS, _address_key())


def count_failure(email: str, kind: str = PASSWORD) -> None:
    if not _limits_on():
        return
    account = _account(email)
    nonce = _known_device(account)
    # Per account and address in every case: a known device that used up its own allowance
    # meets the limits of any other browser with its failures already counted.
    limiter.limiter.hit(PER_ACCOUNT_AND_ADDRESS, _pair_key(kind, account))
    if nonce:
        key = _device_key(kind, account, nonce)
        if limiter.limiter.test(PER_DEVICE, key):
            limiter.limiter.hit(PER_DEVICE, key)
            return  # the owner's own typos do not slow the account for anyone else
    failures = limiter.storage.incr(_failures_key(kind, account), ACCOUNT_WINDOW_SECONDS)
    wait = delay_after(failures)
    if wait:
        limiter.storage.incr(_wait_key(kind, account, failures), wait)


# --- equal work ------------------------------------------------------------------------------


@functools.cache
def _dummy_hash() -> str:
    # Werkzeug's default method and parameters, as User.set_password uses.
    return generate_password_hash(secrets.token_urlsafe(24))


def password_matches(user: User | None, password: str) -> bool:
    """The password check for sign-in: an unknown email does the same scrypt work."""
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return False
    return user.check_password(password)
