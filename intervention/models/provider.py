"""The program as an agency: the sender named at the head of every court document."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class Provider(db.Model):
    """One row: the agency's letterhead, edited by the director.

    Until he fills it in there is no row, and documents head with the program's name.
    """

    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_name: Mapped[str] = mapped_column(sa.String(200))
    address: Mapped[str] = mapped_column(sa.Text, default="")
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    email: Mapped[str] = mapped_column(sa.String(254), default="")
    # The state's certification or license number for the program.
    license_number: Mapped[str] = mapped_column(sa.String(80), default="")
    director_name: Mapped[str] = mapped_column(sa.String(200), default="")
    director_title: Mapped[str] = mapped_column(sa.String(200), default="")
    # Sanitised logo bytes (see services.provider) and their type: image/png or image/svg+xml.
    logo: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    logo_type: Mapped[str] = mapped_column(sa.String(40), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def address_lines(self) -> list[str]:
        return [line.strip() for line in self.address.splitlines() if line.strip()]
