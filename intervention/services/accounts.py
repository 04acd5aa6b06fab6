"""Account security: the password policy, password changes and time-based one-time codes
(one of the second factors of services/second_factor.py)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pyotp
from flask_babel import gettext as _

from ..extensions import db
from ..models import User, utcnow
from . import ServiceError, audit, second_factor

# Staff accounts open court records, so they get the longer minimum; participants type on
# phones and many read poorly, so 10 characters (a few words in a row) is their floor.
MIN_LENGTH = {True: 12, False: 10}
MAX_LENGTH = 200
COMMON_PASSWORDS = Path(__file__).resolve().parent.parent / "data" / "common_passwords.txt"
TOTP_ISSUER = "Intervention"


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def min_length(user: User) -> int:
    return MIN_LENGTH[user.role.is_staff]


def password_problem(password: str, user: User) -> str | None:
    """Why this password is refused for this person, in plain words; None when it is fine."""
    shortest = min_length(user)
    if len(password) < shortest:
        return _("Use at least %(num)d characters.", num=shortest)
    if len(password) > MAX_LENGTH:
        return _("Use at most %(num)d characters.", num=MAX_LENGTH)
    lowered = password.lower()
    # "password123!" and "Password" are as weak as "password": drop case, digits and symbols
    # at the ends before looking the word up.
    core = re.sub(r"^[\W\d_]+|[\W\d_]+$", "", lowered)
    if lowered in common_passwords() or core in common_passwords() or len(set(lowered)) < 4:
        return _("That password is too common. Choose one that is harder to guess.")
    squashed = re.sub(r"[\W_]+", "", lowered)
    personal = [user.email.lower(), user.email.split("@")[0].lower()]
    personal += [part.lower() for part in re.split(r"\s+", user.full_name) if len(part) >= 4]
    if any(p and (p in lowered or p in squashed) for p in personal):
        return _("Do not use your name or email in your password.")
    return None


def set_password(user: User, password: str, actor: User, *, via: str) -> User:
    """Store a new password; every session that carried the old one is signed out."""
    problem = password_problem(password, user)
    if problem:
        raise ServiceError(problem)
    user.set_password(password)
    user.password_changed_at = utcnow()
    user.session_version = (user.session_version or 1) + 1
    db.session.flush()
    audit.record("auth.password_set", actor, user, via=via)
    return user


def change_password(user: User, current: str, new: str) -> User:
    """A signed-in person changes his own password; he must know the current one."""
    if not user.check_password(current):
        audit.record("auth.password_change_failed", user, user)
        raise ServiceError(_("Your current password is not right."))
    if current == new:
        raise ServiceError(_("Choose a new password, not the one you have now."))
    return set_password(user, new, user, via="change")


# --- time-based one-time codes (staff only) -----------------------------------------------


def can_use_totp(user: User) -> bool:
    return user.role.is_staff


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)


def _code_ok(secret: str | None, code: str) -> bool:
    code = re.sub(r"\s+", "", code or "")
    if not secret or not re.fullmatch(r"\d{6}", code):
        return False
    # One step either side forgives a phone clock that is 30 seconds off.
    return pyotp.TOTP(secret).verify(code, valid_window=1)


def check_totp(user: User, code: str) -> bool:
    return user.totp_enabled and _code_ok(user.totp_secret, code)


def enable_totp(user: User, secret: str, code: str) -> User:
    """Turn codes on once the person proved his app makes the right ones."""
    if not can_use_totp(user):
        raise ServiceError(_("Two-step sign-in is for staff accounts."))
    if not _code_ok(secret, code):
        raise ServiceError(_("That code is not right. Check your app and try the newest code."))
    user.totp_secret = secret
    user.totp_enabled = True
    db.session.flush()
    audit.record("auth.totp_enabled", user, user)
    return user


def disable_totp(user: User, code: str) -> User:
    """Turn codes off; a staff account keeps at least one second factor."""
    second_factor.check_not_last_factor(user)
    if not check_totp(user, code):
        raise ServiceError(_("That code is not right. Check your app and try the newest code."))
    user.totp_enabled = False
    user.totp_secret = None
    db.session.flush()
    audit.record("auth.totp_disabled", user, user)
    return user
