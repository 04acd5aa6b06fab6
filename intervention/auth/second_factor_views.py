"""Second factor pages for staff: setting one up at the first sign-in (an authenticator app
or a passkey), signing in with a passkey, and on the account page the passkeys and the
recovery codes. The passkey buttons need static/js/passkeys.js; everything else works
without JavaScript."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..extensions import db
from ..forms import EmptyForm
from ..models import Passkey, User
from ..services import ServiceError, audit, second_factor
from ..transaction import committed, flash_error
from . import passkeys, throttle
from .forms import CodeForm, NewPasskeyForm, PasskeyForm
from .views import (
    _count_attempt,
    _count_failure,
    _end_session,
    _throttled,
    bp,
    enable_totp,
    finish_sign_in,
    pending_sign_in,
    totp_setup,
)


@bp.before_app_request
def staff_have_a_second_factor():
    """A staff session without a second factor behind it (one opened before factors were
    required) ends: the next sign-in asks him to set one up."""
    if request.endpoint == "static" or not current_user.is_authenticated:
        return None
    user = current_user._get_current_object()
    if second_factor.needs_second_factor(user) and not second_factor.has_second_factor(user):
        _end_session(_("Your account needs a second factor now. Sign in again to set it up."))
        return redirect(url_for("auth.login"))
    return None


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _first_error(form) -> str:
    return next(iter(form.errors.values()))[0]


def _staff_only() -> User:
    user = current_user._get_current_object()
    if not second_factor.needs_second_factor(user):
        abort(403)  # participants sign in with a password alone
    return user


def _show_new_codes(codes: list[str], next_url: str, *, first: bool):
    """The recovery codes, shown this once (only their hashes are kept)."""
    return _no_store(
        current_app.make_response(
            render_template(
                "auth/recovery_codes_new.html", codes=codes, next_url=next_url, first=first
            )
        )
    )


def _add_passkey(user: User, form: NewPasskeyForm) -> str | None:
    """Check the browser's new passkey against the ceremony this session began; returns the
    refusal, or None when it is added."""
    ceremony = passkeys.take("register", user)
    if ceremony is None:
        return _("That took too long, or the page was opened again since. Try again.")
    try:
        second_factor.register_passkey(
            user,
            name=form.name.data,
            credential=form.credential.data,
            ceremony=ceremony,
            rp=passkeys.relying_party(),
        )
    except ServiceError as error:
        return str(error)
    return None


# --- the first sign-in of an account without a factor --------------------------------------


def _enrolled(user: User):
    """His first factor is set up: the sign-in is complete, and his recovery codes shown."""
    codes = second_factor.new_recovery_codes(user)
    target = finish_sign_in(user)
    db.session.commit()
    return _show_new_codes(codes, target, first=True)


@bp.route("/login/enrol", methods=["GET", "POST"])
def login_enrol():
    """Public, like the code step: the right password in this session is the proof, and
    only for an account that has no factor yet (pending_sign_in sends others on)."""
    user, elsewhere = pending_sign_in("auth.login_enrol")
    if elsewhere is not None:
        return elsewhere
    setup = totp_setup(user)
    form = CodeForm()
    if form.validate_on_submit():
        refused = enable_totp(user, setup, form.code.data)
        if refused is None:
            return _enrolled(user)
        form.code.errors.append(refused)
    ceremony = passkeys.begin("register", user)
    return _no_store(
        current_app.make_response(
            render_template(
                "auth/enrol.html",
                user=user,
                form=form,
                setup=setup,
                passkey_form=NewPasskeyForm(formdata=None),
                passkey_options=ceremony.options_json,
            )
        )
    )


@bp.route("/login/enrol/passkey", methods=["POST"])
def enrol_passkey():
    user, elsewhere = pending_sign_in("auth.login_enrol")
    if elsewhere is not None:
        return elsewhere
    form = NewPasskeyForm()
    if not form.validate_on_submit():
        flash(_first_error(form), "error")
        return redirect(url_for("auth.login_enrol"))
    too_many = _throttled(user.email, kind=throttle.CODE)
    refused = too_many or _add_passkey(user, form)
    if refused:
        if not too_many:
            _count_attempt()
            _count_failure(user.email, kind=throttle.CODE)
        flash(refused, "error")
        return redirect(url_for("auth.login_enrol"))
    return _enrolled(user)


# --- signing in with a passkey ---------------------------------------------------------------


@bp.route("/login/passkey", methods=["POST"])
def login_passkey():
    """The passkey answer of the code step (auth.login_code began the ceremony)."""
    user, elsewhere = pending_sign_in("auth.login_code")
    if elsewhere is not None:
        return elsewhere
    form = PasskeyForm()
    if not form.validate_on_submit():
        flash(_first_error(form), "error")
        return redirect(url_for("auth.login_code"))
    too_many = _throttled(user.email, kind=throttle.CODE)
    if too_many:
        flash(too_many, "error")
        return redirect(url_for("auth.login_code"))
    ceremony = passkeys.take("sign-in", user)
    passkey = None
    if ceremony is not None:
        passkey = second_factor.check_passkey(
            user, credential=form.credential.data, ceremony=ceremony, rp=passkeys.relying_party()
        )
    if passkey is None:
        # As for a wrong code: another attempt, for this address and for this account.
        _count_attempt()
        _count_failure(user.email, kind=throttle.CODE)
        audit.record("auth.passkey_failed", None, user)
        db.session.commit()
        flash(_("That passkey did not sign you in. Try again, or type a code."), "error")
        return redirect(url_for("auth.login_code"))
    target = finish_sign_in(user)
    db.session.commit()
    return redirect(target)


# --- the account pages -----------------------------------------------------------------------


@bp.route("/account/passkeys", methods=["GET", "POST"], endpoint="passkeys")
@login_required
def account_passkeys():
    """His passkeys, by the names he gave them; POST adds one."""
    user = _staff_only()
    form = NewPasskeyForm()
    if form.is_submitted():
        if not form.validate():
            flash(_first_error(form), "error")
        else:
            refused = _add_passkey(user, form)
            if refused:
                flash(refused, "error")
            else:
                db.session.commit()
                flash(_("Your passkey is added."), "success")
        return redirect(url_for("auth.passkeys"))
    ceremony = passkeys.begin("register", user)
    return render_template(
        "auth/passkeys.html",
        passkeys=second_factor.passkeys_of(user),
        only_factor=second_factor.factor_count(user) <= 1,
        form=form,
        passkey_options=ceremony.options_json,
        remove_form=EmptyForm(),
    )


@bp.route("/account/passkeys/<int:passkey_id>/remove", methods=["POST"])
@login_required
def remove_passkey(passkey_id: int):
    user = _staff_only()
    if not EmptyForm().validate_on_submit():
        abort(400)
    passkey = db.session.get(Passkey, passkey_id) if passkey_id < 2**31 else None
    if passkey is None or passkey.user_id != user.id:
        # The same answer for a passkey removed a moment ago and for anyone else's.
        flash(_("That passkey is not on your account."), "error")
        return redirect(url_for("auth.passkeys"))
    with committed(flash_error) as done:
        second_factor.remove_passkey(passkey, user)
    if done:
        flash(_("The passkey is removed."), "success")
    return redirect(url_for("auth.passkeys"))


@bp.route("/account/recovery-codes", methods=["GET", "POST"])
@login_required
def recovery_codes():
    """How many codes are left; POST makes a new set, and the old one stops working."""
    user = _staff_only()
    form = EmptyForm()
    if form.validate_on_submit():
        codes = second_factor.new_recovery_codes(user)
        db.session.commit()
        return _show_new_codes(codes, url_for("auth.account"), first=False)
    return render_template(
        "auth/recovery_codes.html", left=second_factor.recovery_codes_left(user), form=form
    )
