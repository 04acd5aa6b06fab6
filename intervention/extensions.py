"""Every Flask extension object, created once here and bound to the app in create_app."""

from flask import current_app
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


db = SQLAlchemy(model_class=Base)
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
