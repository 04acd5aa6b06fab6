"""Where generated data may go: never into production, only into an empty database."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select

from ..extensions import db
from ..models import Court, User


def refuse_in_production(refused: type[Exception], what: str) -> None:
    # Generated accounts share a published password: never in a production database.
    if current_app.config["ENV_NAME"] == "production":
        raise refused(f"{what} is never added in production.")


def refuse_unless_empty(refused: type[Exception], what: str) -> None:
    if db.session.scalar(select(func.count(User.id))) or db.session.scalar(
        select(func.count(Court.id))
    ):
        raise refused(
            f"the database already has accounts or courts; {what} goes only into an empty database."
        )
