"""Where a person is signed in: his live sessions, and ending one, the others, or all."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from ..extensions import db
from ..models import BrowserSession, User
from . import audit


def active_sessions(user: User, now: datetime) -> list[BrowserSession]:
    """His sessions that still open pages: from his current password era, not yet idle."""
    return list(
        db.session.scalars(
            select(BrowserSession)
            .where(
                BrowserSession.user_id == user.id,
                BrowserSession.session_version == user.session_version,
                BrowserSession.expires_at > now,
            )
            .order_by(BrowserSession.last_seen_at.desc(), BrowserSession.id.desc())
        )
    )


def end_session(user: User, session_id: int, actor: User) -> BrowserSession | None:
    """End one of his sessions; None when it is not his or has already ended."""
    found = db.session.scalar(
        select(BrowserSession).where(
            BrowserSession.id == session_id, BrowserSession.user_id == user.id
        )
    )
    if found is None:
        return None
    db.session.delete(found)
    db.session.flush()
    audit.record("auth.session_ended", actor, user, session=found.id)
    return found


def end_sessions(user: User, actor: User, *, keep: int | None) -> int:
    """End all his sessions but `keep` (None: every one); returns how many ended."""
    query = delete(BrowserSession).where(BrowserSession.user_id == user.id)
    if keep is not None:
        query = query.where(BrowserSession.id != keep)
    ended = db.session.execute(query, execution_options={"synchronize_session": False}).rowcount
    audit.record("auth.sessions_ended", actor, user, count=ended, kept_this_one=keep is not None)
    return ended
