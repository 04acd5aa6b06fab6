"""Sign-in forms, the forms people set and change their password with, and two-step codes."""

from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from ..forms import BaseForm


class LoginForm(BaseForm):
    keep_whitespace = frozenset({"password"})

    # No format check here: a wrong address simply fails to sign in, with the same message.
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class CodeForm(BaseForm):
    """The six-digit code from an authenticator app."""

    code = StringField(
        "Code from your app",
        validators=[DataRequired(message="Type the 6-digit code."), Length(max=12)],
    )


class WelcomeForm(BaseForm):
    """A new account holder chooses his password from his invitation link. Length and the
    common-password check depend on the account, so the view applies the policy."""

    keep_whitespace = frozenset({"password", "confirm"})

    password = PasswordField(
        "New password",
        validators=[DataRequired(message="Choose a password."), Length(max=200)],
    )
    confirm = PasswordField(
        "Type it again",
        validators=[
            DataRequired(message="Type the password again."),
            EqualTo("password", message="The two passwords are not the same. Try again."),
        ],
    )


class ChangePasswordForm(WelcomeForm):
    keep_whitespace = frozenset({"current", "password", "confirm"})

    current = PasswordField(
        "Current password",
        validators=[DataRequired(message="Type your current password."), Length(max=200)],
    )
