"""Shared column helpers for the models: UTC timestamps and string-backed enums."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite drops tzinfo otherwise)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given; store UTC-aware datetimes only")
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None:
            # PostgreSQL answers in the session's timezone, which need not be UTC.
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value


def str_enum(enum_cls: type[enum.Enum], name: str) -> sa.Enum:
    """A portable enum column storing the member values as short strings."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        length=32,
        validate_strings=True,
        values_callable=lambda members: [m.value for m in members],
    )
