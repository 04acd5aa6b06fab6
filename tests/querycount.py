"""Counting the SQL statements a request sends, shared by the query-count tests and
bench/query_counts.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.engine import Engine

# Transaction control is not a query: the tests wrap every request in savepoints, and SQLite
# sends its own BEGIN; neither exists per page in production nor reads any data.
TRANSACTION_CONTROL = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


@dataclass
class QueryLog:
    """The statements sent while counting, in order."""

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def __str__(self) -> str:
        return "\n".join(f"{i}. {s}" for i, s in enumerate(self.statements, 1))


@contextmanager
def counting(engine: Engine) -> Iterator[QueryLog]:
    """Record every statement sent through the engine's connections inside the block."""
    log = QueryLog()

    def before_cursor_execute(_conn, _cursor, statement, _params, _context, _executemany):
        if not TRANSACTION_CONTROL.match(statement):
            log.statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield log
    finally:
        event.remove(engine, "before_cursor_execute", before_cursor_execute)
