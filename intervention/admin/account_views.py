"""Staff accounts for program directors: invite, disable and enable, role, new access links."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from ..access import get_or_404
from ..auth import invitations
from ..extensions import db
from ..forms import BaseForm, EmptyForm
from ..models import Court, Role, User
from ..models.users import ROLE_LABELS
from ..names import clean_name
from ..services import courts as court_service
from ..services import second_factor
from ..services import staff_accounts as account_service
from ..transaction import Outcome, committed
from .enrollment_views import show_invitation
from .views import bp

ROLE_CHOICES = [(r.value, ROLE_LABELS[r]) for r in account_service.STAFF_ROLES]


class RoleFields:
    # No DataRequired: the menu refuses anything but its choices, and a required <select>
    # whose first option is a real role is invalid HTML.
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    court_id = SelectField(_l("Court (clerks only)"), coerce=int, default=0)

    def validate_court_id(self, field):
        if self.role.data == Role.CLERK.value and not field.data:
            raise ValidationError(_("A clerk needs a court."))


class StaffInviteForm(RoleFields, BaseForm):
    full_name = StringField(
        _l("Full name"),
        validators=[DataRequired(message=_l("Give the full name.")), Length(max=200)],
        filters=[clean_name],  # names.py: no bidirectional controls
    )
    email = StringField(
        _l("Email"),
        validators=[DataRequired(message=_l("Give the email.")), Length(max=254)],
    )


class RoleForm(RoleFields, BaseForm):
    pass


def _court_choices(form) -> None:
    courts = court_service.listing()
    form.court_id.choices = [(0, _("No court")), *[(c.id, c.name) for c in courts]]


def _staff_or_404(user_id: int) -> User:
    user = get_or_404(User, user_id)
    if not user.role.is_staff:
        abort(404)
    return user


@bp.route("/staff")
def staff():
    accounts = account_service.staff_listing()
    return render_template(
        "admin/staff.html", accounts=accounts, passkeys=second_factor.passkey_counts(accounts)
    )


@bp.route("/staff/new", methods=["GET", "POST"])
def new_staff():
    form = StaffInviteForm()
    _court_choices(form)
    done = Outcome()
    if form.validate_on_submit():
        with committed() as done:
            user = account_service.invite_staff(
                full_name=form.full_name.data,
                email=form.email.data,
                role=Role(form.role.data),
                court=db.session.get(Court, form.court_id.data) if form.court_id.data else None,
                actor=current_user,
            )
            token = invitations.invite(user, current_user)
        if done:
            flash(
                _(
                    "Account made for %(name)s (%(role)s).",
                    name=user.full_name,
                    role=user.role.label,
                ),
                "success",
            )
            return show_invitation(user, token)
    return render_template("admin/staff_form.html", form=form, error=done.error or None)


@bp.route("/staff/<int:user_id>", methods=["GET", "POST"])
def staff_account(user_id: int):
    """One account: its role (POST changes it), and the buttons for the other changes."""
    user = _staff_or_404(user_id)
    form = RoleForm()
    _court_choices(form)
    done = Outcome()
    if form.validate_on_submit():
        court = db.session.get(Court, form.court_id.data) if form.court_id.data else None
        with committed() as done:
            account_service.change_role(user, Role(form.role.data), court, current_user)
        if done:
            flash(
                _("%(name)s is now %(role)s.", name=user.full_name, role=user.role.label), "success"
            )
            return redirect(url_for(".staff_account", user_id=user.id))
    elif not form.is_submitted():
        form.role.data = user.role.value
        form.court_id.data = user.court_id or 0
    return render_template(
        "admin/staff_account.html",
        account=user,
        form=form,
        error=done.error or None,
        button_form=EmptyForm(),
        factors=second_factor.summary(user),
    )


def _change(user_id: int, change, done):
    user = _staff_or_404(user_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    with committed(_flash_error) as changed:
        change(user)
    if changed:
        flash(done % {"name": user.full_name}, "success")
    return redirect(url_for(".staff_account", user_id=user.id))


@bp.route("/staff/<int:user_id>/disable", methods=["POST"])
def disable_staff(user_id: int):
    return _change(
        user_id,
        lambda u: account_service.set_active(u, False, current_user),
        _l("%(name)s's account is disabled."),
    )


@bp.route("/staff/<int:user_id>/enable", methods=["POST"])
def enable_staff(user_id: int):
    return _change(
        user_id,
        lambda u: account_service.set_active(u, True, current_user),
        _l("%(name)s's account is enabled."),
    )


@bp.route("/staff/<int:user_id>/invitation", methods=["POST"])
def staff_invitation(user_id: int):
    """A fresh link, e.g. when the first one expired or the password is lost; setting a password
    ends every older one. It never removes his second factors: he needs one to sign in."""
    user = _staff_or_404(user_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    with committed(_flash_error) as done:
        account_service.reset_access(user, current_user)
        token = invitations.invite(user, current_user)
    if not done:
        return redirect(url_for(".staff_account", user_id=user.id))
    return show_invitation(user, token)


def _flash_error(problem: str) -> None:
    flash(problem, "error")
