"""Walking a whole table a batch at a time, as plain rows: checks that read every stored PDF
(the daily `audit verify`) never hold more than one batch in memory or in the session."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Row, select

from ..extensions import db

BATCH = 100


def in_id_order(*columns, size: int = BATCH) -> Iterator[Row]:
    """Rows of these columns, the first being the table's id, in id order."""
    key = columns[0]
    after = 0
    while True:
        batch = db.session.execute(
            select(*columns).where(key > after).order_by(key).limit(size)
        ).all()
        if not batch:
            return
        yield from batch
        after = batch[-1][0]
