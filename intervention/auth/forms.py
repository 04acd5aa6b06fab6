"""Sign-in form."""

from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Email, Length

from ..forms import BaseForm


class LoginForm(BaseForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(max=200)], keep_whitespace=True
    )
    remember = BooleanField("Keep me signed in on this device")
