"""Sign-in forms, the forms people set and change their password with, second factors (codes,
recovery codes, passkeys), the interface language, and the button that signs out one of his
sessions."""

from flask_babel import lazy_gettext as _l
from wtforms import (
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length
from wtforms.widgets import HiddenInput

from ..forms import BaseForm
from ..i18n import offered_languages


class LoginForm(BaseForm):
    keep_whitespace = frozenset({"password"})

    # No format check here: a wrong address simply fails to sign in, with the same message.
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class CodeForm(BaseForm):
    """The six-digit code from an authenticator app."""

    code = StringField(
        _l("Code from your app"),
        validators=[DataRequired(message=_l("Type the 6-digit code.")), Length(max=12)],
    )


class WelcomeForm(BaseForm):
    """A new account holder chooses his password from his invitation link. Length and the
    common-password check depend on the account, so the view applies the policy."""

    keep_whitespace = frozenset({"password", "confirm"})

    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(message=_l("Choose a password.")), Length(max=200)],
    )
    confirm = PasswordField(
        _l("Type it again"),
        validators=[
            DataRequired(message=_l("Type the password again.")),
            EqualTo("password", message=_l("The two passwords are not the same. Try again.")),
        ],
    )


class ChangePasswordForm(WelcomeForm):
    keep_whitespace = frozenset({"current", "password", "confirm"})

    current = PasswordField(
        _l("Current password"),
        validators=[DataRequired(message=_l("Type your current password.")), Length(max=200)],
    )


class LanguageForm(BaseForm):
    """The language picker in every page's footer and on the account page. An empty choice
    (offered on the account page) follows the browser again. `next` is the page to go back to."""

    language = SelectField(_l("Show these pages in"))
    next = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the languages this app serves (their catalog loaded), each named in itself and
        # marked as such so screen readers pronounce it right.
        self.language.choices = [
            SelectChoice("", _l("Follow my browser")),
            *(
                SelectChoice(code, name, {"lang": code})
                for code, name in offered_languages().items()
            ),
        ]


class EndSessionForm(BaseForm):
    """The "Sign out" button beside one of his sessions on the account page."""

    session_id = IntegerField(validators=[DataRequired()], widget=HiddenInput())


class SecondStepForm(BaseForm):
    """The second step of signing in: a code from the app, or one of the recovery codes."""

    code = StringField(
        _l("Code from your app, or a recovery code"),
        validators=[DataRequired(message=_l("Type the code.")), Length(max=40)],
    )


class PasskeyForm(BaseForm):
    """The browser's answer to a passkey ceremony, put here by static/js/passkeys.js."""

    credential = HiddenField(
        validators=[
            DataRequired(message=_l("Your browser did not send a passkey. Try again.")),
            Length(max=16_000),
        ]
    )


class NewPasskeyForm(PasskeyForm):
    name = StringField(
        _l("Name for this passkey"),
        validators=[
            DataRequired(message=_l("Give the passkey a name, such as “Work laptop”.")),
            Length(max=60),
        ],
    )
