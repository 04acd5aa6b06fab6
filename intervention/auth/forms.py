"""Sign-in form, and the form a new participant sets his password with."""

from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from ..forms import BaseForm


class LoginForm(BaseForm):
    keep_whitespace = frozenset({"password"})

    # No format check here: a wrong address simply fails to sign in, with the same message.
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    remember = BooleanField("Keep me signed in on this device")


class WelcomeForm(BaseForm):
    """A new participant chooses his password from his invitation link."""

    keep_whitespace = frozenset({"password", "confirm"})

    password = PasswordField(
        "New password",
        validators=[
            DataRequired(message="Choose a password."),
            Length(min=10, message="Use at least 10 characters."),
            Length(max=200, message="Use at most 200 characters."),
        ],
    )
    confirm = PasswordField(
        "Type it again",
        validators=[
            DataRequired(message="Type the password again."),
            EqualTo("password", message="The two passwords are not the same. Try again."),
        ],
    )
