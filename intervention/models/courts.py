"""Courts that refer men to the program, each with its own clerks and notice deadline."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class Court(db.Model):
    __tablename__ = "courts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    jurisdiction: Mapped[str] = mapped_column(sa.String(200))
    # IANA name; session times are shown in the court's local time.
    timezone: Mapped[str] = mapped_column(sa.String(64), default="America/Los_Angeles")
    # Days a non-compliance notice may wait before it is overdue.
    notice_deadline_days: Mapped[int] = mapped_column(default=7)
    # The language of the documents the program sends this court ("en", "es").
    language: Mapped[str] = mapped_column(sa.String(8), default="en", server_default="en")
    # Two-letter US state (ISO 3166-2 subdivision, e.g. "WA") whose public holidays sessions
    # are checked against; "" when not set, and then nothing is checked.
    state: Mapped[str] = mapped_column(sa.String(2), default="", server_default="")
    # A certificate goes into a public court file: sessions are listed by number, date,
    # attendance and hours, and by their module titles only when the court asks for them.
    session_titles_on_documents: Mapped[bool] = mapped_column(
        default=False, server_default=sa.false()
    )
    # Whether enrollment needs his date of birth: the court identifies him by it, unless the
    # court says its own person number is enough.
    requires_date_of_birth: Mapped[bool] = mapped_column(default=True, server_default=sa.true())

    def __repr__(self) -> str:
        return f"<Court {self.name}>"
