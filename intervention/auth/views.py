"""Sign-in and sign-out for every role; each role lands on its own home page. New
participants set their first password from an invitation link."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, select

from ..extensions import db
from ..forms import EmptyForm
from ..models import Role, User, utcnow
from ..services import audit
from . import invitations
from .forms import LoginForm, WelcomeForm

bp = Blueprint("auth", __name__)

HOME = {
    Role.PARTICIPANT: "participant.home",
    Role.FACILITATOR: "facilitator.home",
    Role.CLERK: "clerk.cases",
    Role.ADMIN: "admin.home",
}
DEMO_ACCOUNTS = [
    ("admin@demo.test", "Program director"),
    ("facilitator@demo.test", "Facilitator"),
    ("clerk@demo.test", "Court clerk"),
    ("participant@demo.test", "Participant, mid-course"),
    ("participant2@demo.test", "Participant, completed"),
    ("participante@demo.test", "Participant, Spanish edition"),
]


def home_url(user: User) -> str:
    return url_for(HOME[user.role])


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths, so a sign-in link cannot send anyone elsewhere."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.lower()
        user = db.session.scalar(select(User).where(func.lower(User.email) == email))
        if user is None or not user.check_password(form.password.data) or not user.active:
            audit.record("auth.login_failed", None, None, email=email)
            db.session.commit()
            flash("That email and password do not match an active account.", "error")
        else:
            session.clear()  # a fresh session on sign-in, so an old session id is useless
            login_user(user, remember=form.remember.data)
            user.last_login_at = utcnow()
            audit.record("auth.login", user, user)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")) or home_url(user))
    demo = DEMO_ACCOUNTS if current_app.config["DEMO_MODE"] else []
    return render_template("auth/login.html", form=form, demo_accounts=demo)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    form = EmptyForm()
    if form.validate_on_submit():
        audit.record("auth.logout", current_user, current_user)
        db.session.commit()
        logout_user()
        session.clear()
        flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/welcome/<token>", methods=["GET", "POST"])
def welcome(token: str):
    """Public: the link itself is the proof, and it stops working once the password is set."""
    user = invitations.user_for_token(token)
    if user is None:
        response = current_app.make_response((render_template("auth/welcome_invalid.html"), 404))
    else:
        form = WelcomeForm()
        if form.validate_on_submit():
            user.set_password(form.password.data)
            audit.record("auth.password_set", user, user, via="invitation")
            session.clear()
            login_user(user)
            user.last_login_at = utcnow()
            audit.record("auth.login", user, user)
            db.session.commit()
            flash("Your password is saved. You are signed in.", "success")
            return redirect(home_url(user))
        response = current_app.make_response(
            render_template("auth/welcome.html", form=form, user=user)
        )
    # The address is a secret: keep it out of caches and out of Referer headers.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
