"""Staff accounts managed by program directors: invite, disable and enable, change role,
reset access with a new invitation link. Every change is an account.* audit event."""

from __future__ import annotations

import secrets

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..extensions import db
from ..models import Court, Role, User
from ..names import clean_name
from . import ServiceError, audit, second_factor
from .enrollments import EMAIL_RE

STAFF_ROLES = (Role.FACILITATOR, Role.CLERK, Role.ADMIN)
LAST_ADMIN = _l("This is the last active program director's account: keep it an active director.")


def _state(user: User) -> dict:
    """What an account.* event records before and after a change."""
    return {
        "role": user.role.value,
        "court_id": user.court_id,
        "active": user.active,
    }


def _check_role(role: Role, court: Court | None) -> None:
    if role not in STAFF_ROLES:
        raise ServiceError(_("Choose facilitator, clerk or program director."))
    if role is Role.CLERK and court is None:
        raise ServiceError(_("A clerk needs a court."))


def _check_staff(user: User) -> None:
    if not user.role.is_staff:
        raise ServiceError(_("Only staff accounts are managed here."))


def _active_admins() -> int:
    return db.session.scalar(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.active)
    )


def invite_staff(
    *, full_name: str, email: str, role: Role, court: Court | None, actor: User
) -> User:
    """A staff account nobody can sign in to until its owner sets a password by invitation."""
    full_name, email = clean_name(full_name), email.strip().lower()
    if not full_name:
        raise ServiceError(_("Give the person's full name."))
    if not EMAIL_RE.match(email):
        raise ServiceError(_("Give a valid email address, like name@example.com."))
    _check_role(role, court)
    if db.session.scalar(select(User).where(func.lower(User.email) == email)) is not None:
        raise ServiceError(_("An account with the email %(email)s already exists.", email=email))
    user = User(
        email=email,
        full_name=full_name,
        role=role,
        court=court if role is Role.CLERK else None,
        active=True,
    )
    user.set_password(secrets.token_urlsafe(32))  # random and never shown: unusable
    db.session.add(user)
    db.session.flush()
    audit.record("account.create", actor, user, email=email, before=None, after=_state(user))
    return user


def set_active(user: User, active: bool, actor: User) -> User:
    """Disable or enable an account; a disabled account cannot sign in."""
    _check_staff(user)
    if user.active == active:
        return user
    if not active:
        if user.id == actor.id:
            raise ServiceError(_("You cannot disable your own account."))
        if user.role is Role.ADMIN and _active_admins() <= 1:
            raise ServiceError(str(LAST_ADMIN))
    before = _state(user)
    user.active = active
    if not active:
        user.session_version = (user.session_version or 1) + 1  # ends his open sessions
    db.session.flush()
    action = "account.enable" if active else "account.disable"
    audit.record(action, actor, user, before=before, after=_state(user))
    return user


def change_role(user: User, role: Role, court: Court | None, actor: User) -> User:
    _check_staff(user)
    _check_role(role, court)
    court = court if role is Role.CLERK else None
    if user.role is role and user.court_id == (court.id if court else None):
        return user
    if user.role is Role.ADMIN and role is not Role.ADMIN and user.active:
        if _active_admins() <= 1:
            raise ServiceError(str(LAST_ADMIN))
    before = _state(user)
    user.role, user.court = role, court
    db.session.flush()
    audit.record("account.role_change", actor, user, before=before, after=_state(user))
    return user


def reset_access(user: User, actor: User) -> User:
    """Record that a new invitation link is made for this staff account (he lost his
    password, or never set one). The link replaces only the password: his second factors
    stay, and the sign-in it starts asks for one of them, so a director holding another
    director's link still cannot sign in as him."""
    _check_staff(user)
    if not user.active:
        raise ServiceError(
            _("%(name)s's account is disabled; no link was made.", name=user.full_name)
        )
    audit.record(
        "account.access_reset",
        actor,
        user,
        role=user.role.value,
        second_factors_kept=second_factor.factor_count(user),
    )
    return user


def staff_listing() -> list[User]:
    """Every staff account: active first, then by role and name."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.role != Role.PARTICIPANT)
            .order_by(User.active.desc(), User.role, User.full_name, User.id)
        )
    )
