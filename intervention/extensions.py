"""Every Flask extension object, created once here and bound to the app in create_app."""

from flask import current_app, has_request_context, request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints so Alembic migrations are stable on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# The furthest row a page may start at: an offset past a 32-bit number is no page of any list
# here, and one past 64 bits (?page=9223372036854775807) is an error in PostgreSQL and SQLite.
MAX_OFFSET = 2**31 - 1
# Rows per page when the address chooses (?per_page=), as Flask-SQLAlchemy's own default limit.
MAX_PER_PAGE = 100


class Database(SQLAlchemy):
    def paginate(self, select, *, page=None, per_page=None, max_per_page=None, **kwargs):
        """Flask-SQLAlchemy's pager, reading a page number from the address the way Django's
        Paginator.get_page does: one that is not a number is the first page, and one past
        the end is the last page, never an empty page or an offset the database refuses."""
        if has_request_context():
            if page is None:
                page = request.args.get("page", 1, type=int)
            if per_page is None:
                per_page = request.args.get("per_page", 20, type=int)
                max_per_page = min(max_per_page or MAX_PER_PAGE, MAX_PER_PAGE)
        per_page = max(per_page or 20, 1)
        page = min(max(page or 1, 1), MAX_OFFSET // per_page + 1)
        args = {"per_page": per_page, "max_per_page": max_per_page, **kwargs}
        pagination = super().paginate(select, page=page, **args)
        if page > 1 and not pagination.items and kwargs.get("count", True):
            pagination = super().paginate(select, page=max(pagination.pages, 1), **args)
        return pagination


db = Database(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
# Interface languages; the locale selector is in i18n.py.
babel = Babel()


# Rate limits per client address, counted in Redis when INTERVENTION_REDIS_URL is set (so all
# workers share the counts), in memory otherwise. Views opt in with @limiter.limit(...).
limiter = Limiter(key_func=get_remote_address, key_prefix="intervention")


@limiter.request_filter
def _rate_limits_off() -> bool:
    # Flask-Limiter skips its whole setup when disabled at start, so a test could not turn
    # limits back on; RATE_LIMITS is read per request instead (off in the testing config).
    return not current_app.config.get("RATE_LIMITS", True)
