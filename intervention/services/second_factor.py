"""Second factors: every staff account has one before it is signed in (the CJIS Security
Policy asks multi-factor authentication of anyone who opens criminal justice information);
participants have none. A factor is an authenticator app (TOTP, services/accounts.py) or a
passkey (WebAuthn, here). One-time recovery codes stand in for a lost factor at sign-in but
are not a factor of their own: an account keeps at least one real factor.

Passkeys follow the WebAuthn Level 2 ceremonies through the `webauthn` library (Duo's
py_webauthn): attestation "none" (we trust the key, not its maker, as GitHub and Google do),
user verification preferred, the challenge kept on the server side and used once."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import webauthn
from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update
from webauthn.helpers import (
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ..extensions import db
from ..models import Passkey, RecoveryCode, User, utcnow
from . import ServiceError, audit

RECOVERY_CODE_COUNT = 10
# Crockford's base32 (no i, l, o or u), 16 characters: 80 random bits per code, written in
# groups of four. Read back forgivingly, as Crockford specifies: o is 0, i and l are 1.
CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
RECOVERY_CODE_LENGTH = 16
_READ_AS = str.maketrans({"o": "0", "i": "1", "l": "1"})
PASSKEY_NAME_MAX = 60
CEREMONY_TIMEOUT_MS = 5 * 60 * 1000


def needs_second_factor(user: User) -> bool:
    return user.role.is_staff


def passkeys_of(user: User) -> list[Passkey]:
    return list(
        db.session.scalars(select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.id))
    )


def _passkey_count(user: User) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Passkey).where(Passkey.user_id == user.id)
    )


def factor_count(user: User) -> int:
    return int(bool(user.totp_enabled)) + _passkey_count(user)


def has_second_factor(user: User) -> bool:
    return bool(user.totp_enabled) or _passkey_count(user) > 0


@dataclass(frozen=True)
class Factors:
    """What an account page shows of someone's second factors."""

    app: bool
    passkeys: int
    recovery_codes_left: int

    @property
    def any(self) -> bool:
        return self.app or self.passkeys > 0


def summary(user: User) -> Factors:
    return Factors(bool(user.totp_enabled), _passkey_count(user), recovery_codes_left(user))


def passkey_counts(users: list[User]) -> dict[int, int]:
    """Passkeys per account, for a list of accounts in one query."""
    rows = db.session.execute(
        select(Passkey.user_id, func.count())
        .where(Passkey.user_id.in_([u.id for u in users]))
        .group_by(Passkey.user_id)
    )
    return {user_id: count for user_id, count in rows}


def check_not_last_factor(user: User) -> None:
    """Staff cannot remove the factor that stands between a password and their records."""
    if needs_second_factor(user) and factor_count(user) <= 1:
        raise ServiceError(
            _(
                "This is your only second factor. Add another (a passkey or an authenticator"
                " app) before you remove it."
            )
        )


# --- recovery codes --------------------------------------------------------------------------


def _normalise(code: str) -> str:
    return "".join((code or "").lower().split()).replace("-", "").translate(_READ_AS)


def _hash(normalised: str) -> str:
    return hashlib.sha256(normalised.encode()).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(CROCKFORD) for _ in range(RECOVERY_CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, RECOVERY_CODE_LENGTH, 4))


def looks_like_recovery_code(code: str) -> bool:
    normalised = _normalise(code)
    return len(normalised) == RECOVERY_CODE_LENGTH and all(c in CROCKFORD for c in normalised)


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )


def new_recovery_codes(user: User) -> list[str]:
    """A fresh set, shown once: the old set stops working."""
    if not needs_second_factor(user):
        raise ServiceError(_("Recovery codes are for staff accounts."))
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_code() for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash(_normalise(c))) for c in codes)
    db.session.flush()
    audit.record("auth.recovery_codes_made", user, user, count=len(codes))
    return codes


def use_recovery_code(user: User, code: str) -> int | None:
    """Spend one code; returns how many are left, or None when the code is not one of his
    unused codes."""
    if not looks_like_recovery_code(code):
        return None
    # One UPDATE that only matches an unused code: two requests racing with the same code
    # cannot both sign in.
    spent = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash(_normalise(code)),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        return None
    left = recovery_codes_left(user)
    audit.record("auth.recovery_code_used", user, user, left=left)
    return left


# --- passkeys --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RelyingParty:
    """The site as WebAuthn knows it: passkeys are bound to its host name (`id`), and the
    browser reports the page's `origin`, which must match."""

    id: str
    origin: str
    name: str = "Intervention"


@dataclass(frozen=True)
class Ceremony:
    """Options for the browser (JSON) and what the server must keep until the answer."""

    options_json: str
    challenge: bytes
    user_handle: bytes | None = None


def _descriptors(user: User) -> list[PublicKeyCredentialDescriptor]:
    descriptors = []
    for passkey in passkeys_of(user):
        transports = []
        for name in filter(None, passkey.transports.split(",")):
            try:
                transports.append(AuthenticatorTransport(name))
            except ValueError:
                continue
        descriptors.append(
            PublicKeyCredentialDescriptor(id=passkey.credential_id, transports=transports or None)
        )
    return descriptors


def registration_ceremony(user: User, rp: RelyingParty) -> Ceremony:
    """Options to create a passkey for this account. His user handle is made here if he has
    none yet and kept only once a passkey is registered, so showing a page writes nothing."""
    handle = user.passkey_user_handle or secrets.token_bytes(32)
    options = webauthn.generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=handle,
        user_name=user.email,
        user_display_name=user.full_name,
        timeout=CEREMONY_TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=_descriptors(user),  # the same key cannot be added twice
    )
    return Ceremony(webauthn.options_to_json(options), options.challenge, handle)


def sign_in_ceremony(user: User, rp: RelyingParty) -> Ceremony:
    options = webauthn.generate_authentication_options(
        rp_id=rp.id,
        timeout=CEREMONY_TIMEOUT_MS,
        allow_credentials=_descriptors(user),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return Ceremony(webauthn.options_to_json(options), options.challenge)


def _transports(credential: str) -> str:
    try:
        parsed = parse_registration_credential_json(credential)
    except Exception:  # already verified; the transports are only a hint
        return ""
    names = [t.value for t in parsed.response.transports or [] if t in AuthenticatorTransport]
    return ",".join(names)[:200]


def register_passkey(
    user: User, *, name: str, credential: str, ceremony: Ceremony, rp: RelyingParty
) -> Passkey:
    """Check the browser's answer to the registration ceremony and keep the new passkey."""
    if not needs_second_factor(user):
        raise ServiceError(_("Passkeys are for staff accounts."))
    name = " ".join((name or "").split())
    if not name:
        raise ServiceError(_("Give the passkey a name, such as “Work laptop”."))
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
        raise ServiceError(_("Use letters, numbers and spaces in the name."))
    if len(name) > PASSKEY_NAME_MAX:
        raise ServiceError(_("Use at most %(num)d characters for the name.", num=PASSKEY_NAME_MAX))
    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=ceremony.challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
        )
    except Exception:  # any answer that does not parse or verify is refused alike
        raise ServiceError(_("The passkey could not be checked. Try again.")) from None
    taken = db.session.scalar(
        select(Passkey.id).where(Passkey.credential_id == verified.credential_id)
    )
    if taken is not None:
        raise ServiceError(_("That passkey is already in use."))
    passkey = Passkey(
        user_id=user.id,
        name=name,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=_transports(credential),
    )
    if user.passkey_user_handle is None:
        user.passkey_user_handle = ceremony.user_handle
    db.session.add(passkey)
    db.session.flush()
    audit.record("auth.passkey_added", user, user, passkey=passkey.id)
    return passkey


def check_passkey(
    user: User, *, credential: str, ceremony: Ceremony, rp: RelyingParty
) -> Passkey | None:
    """The passkey of his that signed this ceremony's challenge, or None."""
    try:
        raw_id = parse_authentication_credential_json(credential).raw_id
    except Exception:
        return None
    passkey = db.session.scalar(
        select(Passkey).where(Passkey.user_id == user.id, Passkey.credential_id == raw_id)
    )
    if passkey is None:
        return None
    try:
        verified = webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=ceremony.challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=passkey.public_key,
            # The library refuses a counter that did not go up (a cloned authenticator).
            credential_current_sign_count=passkey.sign_count,
        )
    except Exception:
        return None
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = utcnow()
    db.session.flush()
    audit.record("auth.passkey_used", user, user, passkey=passkey.id)
    return passkey


def remove_passkey(passkey: Passkey, actor: User) -> None:
    """The owner removes one of his passkeys; never his last factor."""
    if passkey.user_id != actor.id:
        raise ServiceError(_("That passkey is not yours."))
    check_not_last_factor(actor)
    audit.record("auth.passkey_removed", actor, actor, passkey=passkey.id)
    db.session.delete(passkey)
    db.session.flush()


def reset_by_operator(user: User, reason: str) -> None:
    """Remove every factor and recovery code of a staff member who lost them all, so his next
    sign-in sets up a new one. Only from the server's command line (flask accounts
    reset-second-factor): on the web no one, not even a director, removes another person's
    factors. His open sessions end."""
    if not needs_second_factor(user):
        raise ServiceError("only staff accounts have second factors")
    if not reason.strip():
        raise ServiceError("give the reason (for the audit log)")
    removed = {"app": bool(user.totp_enabled), "passkeys": _passkey_count(user)}
    user.totp_enabled, user.totp_secret = False, None
    db.session.execute(delete(Passkey).where(Passkey.user_id == user.id))
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    user.session_version = (user.session_version or 1) + 1
    db.session.flush()
    audit.record("auth.second_factor_reset", None, user, reason=reason.strip(), removed=removed)
