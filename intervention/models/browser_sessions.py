"""Browser sessions kept on the server: the cookie holds a random id, this table its hash and
everything the app remembers between one page and the next."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from .users import User


class BrowserSession(db.Model):
    __tablename__ = "browser_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 of the id in the cookie: a copy of this table opens no one's session.
    id_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The session's contents (Flask's tagged JSON): sign-in state, CSRF token, flashed
    # messages, a pending two-step sign-in, a TOTP key being set up, an invitation to show.
    data: Mapped[str] = mapped_column(sa.Text, default="{}")
    # Who is signed in (None for a visitor), and his session_version when he signed in: a
    # password change bumps the account's number, which ends every older session.
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    session_version: Mapped[int | None]
    signed_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Written at most once a minute; the idle timeout counts from here.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # After this the record is dead and may be purged.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # The address (through ProxyFix) and browser it was last seen from, for his account page.
    ip_address: Mapped[str] = mapped_column(sa.String(64), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(512), default="")

    user: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<BrowserSession {self.id} user={self.user_id}>"
