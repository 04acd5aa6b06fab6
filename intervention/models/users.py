"""Accounts: every person who signs in, with one role each."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from .base import UTCDateTime, str_enum, utcnow

if TYPE_CHECKING:
    from .courts import Court


class Role(enum.StrEnum):
    PARTICIPANT = "participant"
    FACILITATOR = "facilitator"
    CLERK = "clerk"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return str(ROLE_LABELS[self])

    @property
    def is_staff(self) -> bool:
        return self is not Role.PARTICIPANT


# Read when shown, so each reader (or each court's document) gets its own language.
ROLE_LABELS = {
    Role.PARTICIPANT: _l("Participant"),
    Role.FACILITATOR: _l("Facilitator"),
    Role.CLERK: _l("Clerk"),
    Role.ADMIN: _l("Program director"),
}


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    full_name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(str_enum(Role, "user_role"))
    # Clerks are bound to exactly one court; everyone else has none.
    court_id: Mapped[int | None] = mapped_column(sa.ForeignKey("courts.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Secret part of the private calendar feed URL; replaced to revoke an old link.
    calendar_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    # Bumped on password change: sessions carrying an older number are signed out.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Time-based one-time codes, one of the second factors every staff account must have
    # (services/second_factor.py): the base32 secret and whether it is on.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    totp_enabled: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # The random WebAuthn user handle given to his passkeys (never his id or email), made
    # with his first passkey so each authenticator keeps one credential per account.
    passkey_user_handle: Mapped[bytes | None] = mapped_column(sa.LargeBinary(64))
    # The interface language he chose ("en", "es"); None: follow his browser.
    locale: Mapped[str | None] = mapped_column(sa.String(8))

    court: Mapped[Court | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint(
            "(role = 'clerk') = (court_id IS NOT NULL)", name="clerk_has_exactly_one_court"
        ),
        # Sign-in looks the address up without regard to case.
        sa.Index("ix_users_email_lower", sa.func.lower(sa.column("email"))),
    )

    def set_password(self, password: str) -> None:
        # Werkzeug's default is scrypt, a memory-hard scheme.
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses sign-in to disabled accounts
        return self.active

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role.value}>"
