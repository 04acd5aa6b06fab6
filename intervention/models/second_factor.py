"""Second factors of staff accounts besides app codes: passkeys and one-time recovery codes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from .users import User


class Passkey(db.Model):
    """A WebAuthn credential (a phone, a laptop's fingerprint reader, a security key)."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The owner's own name for it ("Work laptop"), shown on his account page.
    name: Mapped[str] = mapped_column(sa.String(60))
    # The authenticator's id for the credential (up to 1023 bytes by the spec).
    credential_id: Mapped[bytes] = mapped_column(sa.LargeBinary(1023), unique=True)
    # COSE-encoded public key: the server never holds anything that could sign.
    public_key: Mapped[bytes] = mapped_column(sa.LargeBinary())
    # The authenticator's signature counter (unsigned 32-bit, hence BigInteger): a counter
    # that goes backwards means a cloned authenticator. Synced passkeys always send 0.
    sign_count: Mapped[int] = mapped_column(sa.BigInteger(), default=0)
    # How the browser may reach it ("internal,hybrid"), given back at sign-in.
    transports: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class RecoveryCode(db.Model):
    """One of the codes shown once when a second factor is set up: each signs in once, when
    the phone or the passkey is lost. Only a hash is kept."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the normalised code: the codes carry 80 random bits, so a fast hash is
    # enough (nothing to guess from it), as for session tokens.
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (sa.UniqueConstraint("user_id", "code_hash", name="uq_recovery_codes_code"),)
