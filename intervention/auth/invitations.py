"""Invitation links: a signed, expiring link that lets a new participant choose his password.

Nothing is stored. The link carries the user id and a fingerprint of his current password
hash, signed with the app's secret key, so it stops working once a password is set with it
(or any other way), after 14 days, or if a single character is changed.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from flask import current_app, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..extensions import db
from ..models import User
from ..services import audit

SALT = "intervention.invitation"
VALID_FOR = timedelta(days=14)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:24]


def make_token(user: User) -> str:
    return _serializer().dumps({"user": user.id, "password": _fingerprint(user)})


def invite(user: User, actor: User) -> str:
    """A new invitation link's token for `user`; the log records that one was made, never the
    link itself (whoever held it could sign up as him)."""
    token = make_token(user)
    audit.record("invitation.create", actor, user)
    return token


def user_for_token(token: str) -> User | None:
    """The account the link is for, or None when it is forged, expired or already used."""
    try:
        payload = _serializer().loads(token, max_age=int(VALID_FOR.total_seconds()))
    except BadSignature:  # SignatureExpired is a BadSignature too
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("user"), int):
        return None
    user = db.session.get(User, payload["user"])
    if user is None or not user.active:
        return None
    if not hmac.compare_digest(str(payload.get("password", "")), _fingerprint(user)):
        return None
    return user


def invitation_url(token: str) -> str:
    """The absolute link to hand to the man, on the site's public address."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return base + url_for("auth.welcome", token=token)
