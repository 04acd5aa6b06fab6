"""Sign-in and sign-out for every role; each role lands on its own home page. New account
holders set their first password from an invitation link. Staff accounts sign in with a
password and a second factor (services/second_factor.py): after the password, or after an
invitation link, they are not signed in until the factor is right, or until they have set
one up (auth/second_factor_views.py). Signed-in people manage their password, language and
(staff) second factors under /account; anyone picks the interface language at /language.

Sessions live on the server (sessions.py): signing out, a password change, an idle timeout, a
disabled account and "sign out everywhere" end them, copies of the cookie included. Every
password and code check is throttled (throttle.py)."""

from __future__ import annotations

import hashlib
import time
from urllib.parse import urlsplit

import segno
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, logout_user
from sqlalchemy import func, select

from ..extensions import db, limiter
from ..forms import EmptyForm
from ..i18n import COOKIE, DEFAULT, offered_languages
from ..models import Role, User, utcnow
from ..services import ServiceError, audit, second_factor
from ..services import accounts as account_service
from ..services import browser_sessions as session_service
from . import invitations, passkeys, sessions, throttle
from .forms import (
    ChangePasswordForm,
    CodeForm,
    EndSessionForm,
    LanguageForm,
    LoginForm,
    PasskeyForm,
    SecondStepForm,
    WelcomeForm,
)

bp = Blueprint("auth", __name__)

HOME = {
    Role.PARTICIPANT: "participant.home",
    Role.FACILITATOR: "facilitator.home",
    Role.CLERK: "clerk.cases",
    Role.ADMIN: "admin.home",
}
DEMO_ACCOUNTS = [
    ("admin@demo.test", _l("Program director")),
    ("facilitator@demo.test", _l("Facilitator")),
    ("clerk@demo.test", _l("Court clerk")),
    ("participant@demo.test", _l("Participant, mid-course")),
    ("participant2@demo.test", _l("Participant, completed")),
    ("participante@demo.test", _l("Participant, Spanish edition")),
]

# Minutes without a request after which a session is signed out: staff, participants.
IDLE_MINUTES = sessions.IDLE_MINUTES
# How long the second step of signing in waits after the password: typing a code is quick;
# setting up a first factor (installing an app, scanning its QR code) takes longer.
CODE_STEP_SECONDS = 5 * 60
ENROL_STEP_SECONDS = 15 * 60
PENDING_KEYS = ("pending_user", "pending_since", "pending_next")
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 60 * 60


def _clock() -> float:
    return time.time()


def home_url(user: User) -> str:
    return url_for(HOME[user.role])


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths, so a sign-in link cannot send anyone elsewhere."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    # Browsers read a backslash as a slash ("/\evil.example" is "//evil.example"), and a
    # control character could break the Location header.
    if "\\" in target or any(ord(char) < 32 for char in target):
        return None
    return target


# --- throttling (the design is in throttle.py) -------------------------------------------------


def _throttled(email: str | None, *, kind: str = throttle.PASSWORD) -> str | None:
    """The message to show when this address, account or device has tried too often."""
    return throttle.refusal(email, kind)


def _count_attempt() -> None:
    throttle.count_attempt()


def _count_failure(email: str, *, kind: str = throttle.PASSWORD) -> None:
    throttle.count_failure(email, kind)


def _used_code_key(user: User, code: str) -> str:
    secret = hashlib.sha256((user.totp_secret or "").encode()).hexdigest()[:12]
    return f"intervention/totp-used/{user.id}/{secret}/{''.join(code.split())}"


def _first_use(user: User, code: str) -> bool:
    """A code signs in once: one seen over someone's shoulder cannot be used again while it
    is still valid (about 90 seconds with the clock tolerance). Kept in the limiter's storage,
    so every worker knows."""
    return limiter.storage.incr(_used_code_key(user, code), 120) == 1


# --- sessions --------------------------------------------------------------------------------


def _start_session(user: User) -> None:
    """A fresh session under a new id (an old id, or a copy of it, is useless) that remembers
    the password era; this browser becomes a known device of the account."""
    sessions.start(user)
    throttle.remember_device(user.email)
    user.last_login_at = utcnow()
    audit.record("auth.login", user, user)


def _end_session(message: str) -> None:
    sessions.end()
    flash(message, "info")


@bp.before_app_request
def check_session():
    """End sessions of disabled accounts, from before a password change, or left idle too
    long."""
    if request.endpoint == "static" or not current_user.is_authenticated:
        return None
    user = current_user._get_current_object()
    ended = sessions.ended_because(user)
    if ended:
        _end_session(ended)
        return None
    return None


# --- sign-in ---------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        too_many = _throttled(email)
        if too_many:
            # Never the email typed: it may be a participant's, or a stranger's (issue 13).
            audit.record("auth.login_throttled", None, None)
            db.session.commit()
            flash(too_many, "error")
            status = 429
        else:
            _count_attempt()
            user = db.session.scalar(select(User).where(func.lower(User.email) == email))
            # An unknown email costs the same scrypt work as a known one.
            if not throttle.password_matches(user, form.password.data) or not user.active:
                _count_failure(email)
                # The account's id when there is one; never the email typed (issue 13).
                audit.record("auth.login_failed", None, user)
                db.session.commit()
                flash(_("That email and password do not match an active account."), "error")
            elif second_factor.needs_second_factor(user):
                return begin_second_step(user, _safe_next(request.args.get("next")))
            else:
                _start_session(user)
                db.session.commit()
                return redirect(_safe_next(request.args.get("next")) or home_url(user))
    # Demo accounts are listed only outside production, whatever DEMO_MODE was set to.
    listed = current_app.config["DEMO_MODE"] and current_app.config["ENV_NAME"] != "production"
    demo, secret = [], None
    if listed:
        # The demo's data, loaded only where a demo instance lists its accounts.
        from ..demo import DEMO_TOTP_SECRET as secret

        demo = DEMO_ACCOUNTS
    return render_template(
        "auth/login.html", form=form, demo_accounts=demo, demo_totp_secret=secret
    ), status


# --- the second step: staff only ---------------------------------------------------------


def _step_for(user: User) -> str:
    """An account with a second factor must use it; one without sets one up first."""
    return "auth.login_code" if second_factor.has_second_factor(user) else "auth.login_enrol"


def begin_second_step(user: User, target: str | None):
    """The password (or an invitation link) was right, but a staff account is not signed in
    until its second factor is right too, or until it has set one up."""
    logout_user()  # an invitation link opened while signed in as someone else
    session.clear()
    session["pending_user"] = user.id
    session["pending_since"] = _clock()
    session["pending_next"] = target
    return redirect(url_for(_step_for(user)))


def pending_sign_in(step: str):
    """(the account waiting at this step, None), or (None, where to send the browser): back
    to the password when there is no step under way or it took too long, or to the step the
    account is really at. So the page that sets up a factor never opens for an account that
    already has one: a password alone cannot add a factor."""
    user_id, since = session.get("pending_user"), session.get("pending_since")
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.active or not second_factor.needs_second_factor(user):
        for key in PENDING_KEYS:
            session.pop(key, None)
        return None, redirect(url_for("auth.login"))
    now_at = _step_for(user)
    limit = CODE_STEP_SECONDS if now_at == "auth.login_code" else ENROL_STEP_SECONDS
    if not isinstance(since, int | float) or _clock() - since > limit:
        for key in PENDING_KEYS:
            session.pop(key, None)
        flash(_("That took too long. Sign in again."), "info")
        return None, redirect(url_for("auth.login"))
    if now_at != step:
        return None, redirect(url_for(now_at))
    return user, None


def finish_sign_in(user: User) -> str:
    """Both factors are right: a fresh session. Returns the page to go to."""
    target = session.get("pending_next")
    _start_session(user)
    return target or home_url(user)


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    """The second step for staff with a factor: a code from the app, one of the recovery
    codes, or a passkey (whose answer goes to auth.login_passkey)."""
    user, elsewhere = pending_sign_in("auth.login_code")
    if elsewhere is not None:
        return elsewhere
    form = SecondStepForm()
    status = 200
    if form.validate_on_submit():
        too_many = _throttled(user.email, kind=throttle.CODE)
        if too_many:
            flash(too_many, "error")
            status = 429
        else:
            code = form.code.data
            recovery = second_factor.looks_like_recovery_code(code)
            if recovery:
                left = second_factor.use_recovery_code(user, code)
                right = left is not None
            else:
                right = account_service.check_totp(user, code) and _first_use(user, code)
            if right:
                target = finish_sign_in(user)
                db.session.commit()
                if recovery:
                    flash(_recovery_code_used(left), "info")
                return redirect(target)
            # A right code finishes the attempt the password step counted; a wrong one is
            # another attempt, for this address and for this account.
            _count_attempt()
            _count_failure(user.email, kind=throttle.CODE)
            audit.record(
                "auth.recovery_code_failed" if recovery else "auth.totp_failed", None, user
            )
            db.session.commit()
            if recovery:
                flash(_("That recovery code is not right, or it was used already."), "error")
            else:
                flash(_("That code is not right. Try the newest code from your app."), "error")
    has_passkeys = bool(second_factor.passkeys_of(user))
    ceremony = passkeys.begin("sign-in", user) if has_passkeys else None
    response = current_app.make_response(
        (
            render_template(
                "auth/login_code.html",
                form=form,
                user=user,
                passkey_form=PasskeyForm() if ceremony else None,
                passkey_options=ceremony.options_json if ceremony else None,
            ),
            status,
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _recovery_code_used(left: int) -> str:
    if left > 3:
        return ngettext(
            "You signed in with a recovery code. You have %(num)d left.",
            "You signed in with a recovery code. You have %(num)d left.",
            left,
        )
    return ngettext(
        "You signed in with a recovery code. Only %(num)d is left: make new ones on your"
        " account page.",
        "You signed in with a recovery code. Only %(num)d are left: make new ones on your"
        " account page.",
        left,
    )


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    form = EmptyForm()
    if form.validate_on_submit():
        audit.record("auth.logout", current_user, current_user)
        db.session.commit()
        sessions.end()
        flash(_("You are signed out."), "info")
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
            try:
                account_service.set_password(user, form.password.data, user, via="invitation")
            except ServiceError as error:
                form.password.errors.append(str(error))
            else:
                if second_factor.needs_second_factor(user):
                    # No link signs staff in: the password is set, the second factor is
                    # still to come (or to be set up, for a new account).
                    db.session.commit()
                    response = begin_second_step(user, None)
                    flash(_("Your password is saved. Now the second step of signing in."), "info")
                    return response
                _start_session(user)
                db.session.commit()
                flash(_("Your password is saved. You are signed in."), "success")
                return redirect(home_url(user))
        response = current_app.make_response(
            render_template(
                "auth/welcome.html",
                form=form,
                user=user,
                min_length=account_service.min_length(user),
            )
        )
    # The address is a secret: keep it out of caches and out of Referer headers.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# --- the account pages -----------------------------------------------------------------------


@bp.route("/account")
@login_required
def account():
    language = LanguageForm(language=current_user.locale or "", next=url_for("auth.account"))
    user = current_user._get_current_object()
    return render_template(
        "auth/account.html",
        idle_minutes=IDLE_MINUTES[user.role.is_staff],
        language_form=language,
        browser_sessions=session_service.active_sessions(current_user, sessions.now()),
        this_session=sessions.current_record_id(),
        device_name=sessions.device_name,
        factors=second_factor.summary(user) if second_factor.needs_second_factor(user) else None,
    )


@bp.route("/account/sessions/end", methods=["POST"])
@login_required
def end_session():
    """Sign out one of his other sessions (this one signs out with the usual button)."""
    form = EndSessionForm()
    ended = None
    if form.validate_on_submit() and form.session_id.data != sessions.current_record_id():
        ended = session_service.end_session(current_user, form.session_id.data, current_user)
    if ended is None:
        flash(_("That session has already ended."), "info")
    else:
        db.session.commit()
        device = sessions.device_name(ended.user_agent)
        flash(_("%(device)s is signed out.", device=device), "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/sessions/end-others", methods=["POST"])
@login_required
def end_other_sessions():
    if EmptyForm().validate_on_submit():
        session_service.end_sessions(current_user, current_user, keep=sessions.current_record_id())
        db.session.commit()
        flash(_("Every other session is signed out."), "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/sessions/end-all", methods=["POST"])
@login_required
def sign_out_everywhere():
    """For a lost phone or a cookie that may have been copied: this session ends too."""
    if not EmptyForm().validate_on_submit():
        return redirect(url_for("auth.account"))
    session_service.end_sessions(current_user, current_user, keep=None)
    db.session.commit()
    sessions.end()
    flash(_("You are signed out everywhere."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
def language():
    """Anyone may choose the interface language. The browser keeps it in a cookie; a signed-in
    person's account keeps it too, so it follows him to other devices and beats the cookie.
    "Follow my browser" (an empty choice) forgets both."""
    form = LanguageForm()
    if not form.validate_on_submit():
        abort(400)  # the picker only offers our languages
    chosen = form.language.data or None
    if current_user.is_authenticated:
        current_user.locale = chosen
        db.session.commit()
    response = redirect(_safe_next(form.next.data) or url_for("public.index"))
    cookie = {
        "secure": current_app.config["SESSION_COOKIE_SECURE"],
        "httponly": True,
        "samesite": "Lax",
    }
    if chosen:
        response.set_cookie(COOKIE, chosen, max_age=LANGUAGE_COOKIE_SECONDS, **cookie)
    else:
        response.delete_cookie(COOKIE, **cookie)
    # Said in the language the next page will be in.
    offered = offered_languages()
    with force_locale(chosen or request.accept_languages.best_match(offered) or DEFAULT):
        flash(_("Your language is saved."), "success")
    return response


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    user = current_user._get_current_object()
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        too_many = _throttled(user.email)
        if too_many:
            form.current.errors.append(too_many)
            status = 429
        else:
            _count_attempt()
            try:
                account_service.change_password(user, form.current.data, form.password.data)
            except ServiceError as error:
                db.session.commit()  # keep the audit event of a wrong current password
                # The message is in the reader's language, so ask which rule failed: a wrong
                # current password belongs under that field, every other refusal under the new.
                right = user.check_password(form.current.data)
                if not right:
                    _count_failure(user.email)
                field = form.password if right else form.current
                field.errors.append(str(error))
            else:
                _start_session(user)  # renew this session under the new session_version
                db.session.commit()
                flash(
                    _("Your password is changed. You were signed out everywhere else."), "success"
                )
                return redirect(url_for("auth.account"))
    return render_template(
        "auth/change_password.html", form=form, min_length=account_service.min_length(user)
    ), status


def totp_setup(user: User) -> dict:
    """The key for a new authenticator app, as a QR code and as text. It waits in the session
    until a code made from it is confirmed."""
    secret = session.get("totp_setup_secret")
    if not secret:
        secret = session["totp_setup_secret"] = account_service.new_totp_secret()
    uri = account_service.totp_uri(user, secret)
    return {
        "secret": secret,
        "qr": segno.make(uri).svg_inline(scale=4, title=_("QR code for your authenticator app")),
        "spaced": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
    }


def enable_totp(user: User, setup: dict, code: str) -> str | None:
    """Turn app codes on with a confirmed code (throttled like every code check); returns
    the refusal, or None when it is on."""
    too_many = _throttled(user.email, kind=throttle.CODE)
    if too_many:
        return too_many
    try:
        account_service.enable_totp(user, setup["secret"], code)
    except ServiceError as error:
        _count_attempt()
        _count_failure(user.email, kind=throttle.CODE)
        return str(error)
    _first_use(user, code)  # the code that set it up cannot also sign in
    session.pop("totp_setup_secret", None)
    return None


@bp.route("/account/two-step", methods=["GET", "POST"])
@login_required
def two_step():
    """Codes from an authenticator app: set up, or turned off while another factor (a
    passkey) remains."""
    user = current_user._get_current_object()
    if not account_service.can_use_totp(user):
        abort(403)  # codes are for staff accounts
    form = CodeForm()
    if user.totp_enabled:
        only_factor = second_factor.factor_count(user) <= 1
        status = 200
        if form.validate_on_submit():
            too_many = _throttled(user.email, kind=throttle.CODE)
            if too_many:
                form.code.errors.append(too_many)
                status = 429
            else:
                try:
                    account_service.disable_totp(user, form.code.data)
                except ServiceError as error:
                    if not account_service.check_totp(user, form.code.data):
                        # A wrong code, not a refusal by rule (the last factor stays).
                        _count_attempt()
                        _count_failure(user.email, kind=throttle.CODE)
                    db.session.commit()
                    form.code.errors.append(str(error))
                else:
                    db.session.commit()
                    flash(_("Codes from your app are off."), "success")
                    return redirect(url_for("auth.account"))
        return render_template("auth/two_step.html", form=form, user=user, only=only_factor), status
    setup = totp_setup(user)
    if form.validate_on_submit():
        refused = enable_totp(user, setup, form.code.data)
        if refused:
            form.code.errors.append(refused)
        else:
            db.session.commit()
            flash(_("Codes from your app are on. You can use them to sign in."), "success")
            return redirect(url_for("auth.account"))
    response = current_app.make_response(
        render_template("auth/two_step.html", form=form, user=user, setup=setup)
    )
    response.headers["Cache-Control"] = "no-store"
    return response
