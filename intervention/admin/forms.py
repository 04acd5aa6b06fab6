"""Admin forms."""

from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from ..forms import BaseForm


class RevokeForm(BaseForm):
    reason = TextAreaField(
        "Reason", validators=[DataRequired(message="Give the reason."), Length(max=2000)]
    )
