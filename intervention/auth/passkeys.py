"""The web side of passkey ceremonies: which site the passkeys belong to, and the challenge
the server keeps (in the session, never trusted from the browser) until the answer comes."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import current_app, request, session
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from ..models import User
from ..services import second_factor
from ..services.second_factor import Ceremony, RelyingParty

SESSION_KEY = "passkey_ceremony"
# The browser gives the person this long to touch his key (CEREMONY_TIMEOUT_MS), plus a margin.
CEREMONY_SECONDS = second_factor.CEREMONY_TIMEOUT_MS // 1000 + 60


def relying_party() -> RelyingParty:
    """Passkeys are bound to the site's public address (INTERVENTION_PUBLIC_URL), so a
    look-alike site cannot use them. In development the address is whatever host the
    browser asked for (localhost, 127.0.0.1, a laptop's name)."""
    if current_app.config.get("ENV_NAME") == "development":
        parts = urlsplit(request.host_url)
    else:
        parts = urlsplit(current_app.config["PUBLIC_BASE_URL"])
    return RelyingParty(id=parts.hostname or "localhost", origin=f"{parts.scheme}://{parts.netloc}")


def begin(purpose: str, user: User) -> Ceremony:
    """Options for the page's passkey button; the challenge waits in the session. A page
    opened later replaces it, so only the newest page's passkey answer counts."""
    rp = relying_party()
    if purpose == "register":
        ceremony = second_factor.registration_ceremony(user, rp)
    else:
        ceremony = second_factor.sign_in_ceremony(user, rp)
    session[SESSION_KEY] = {
        "purpose": purpose,
        "user": user.id,
        "challenge": bytes_to_base64url(ceremony.challenge),
        "handle": bytes_to_base64url(ceremony.user_handle) if ceremony.user_handle else None,
        "at": time.time(),
    }
    return ceremony


def take(purpose: str, user: User) -> Ceremony | None:
    """The ceremony this answer belongs to, used up: a challenge signs once."""
    kept = session.pop(SESSION_KEY, None)
    if not isinstance(kept, dict) or kept.get("purpose") != purpose:
        return None
    if kept.get("user") != user.id or not isinstance(kept.get("at"), int | float):
        return None
    if time.time() - kept["at"] > CEREMONY_SECONDS:
        return None
    handle = kept.get("handle")
    return Ceremony(
        options_json="",
        challenge=base64url_to_bytes(kept["challenge"]),
        user_handle=base64url_to_bytes(handle) if handle else None,
    )
