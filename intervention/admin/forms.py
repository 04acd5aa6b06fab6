"""Admin forms."""

from wtforms import SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..forms import BaseForm


class RevokeForm(BaseForm):
    reason = TextAreaField(
        "Reason", validators=[DataRequired(message="Give the reason."), Length(max=2000)]
    )


class MoveVersionForm(BaseForm):
    version_id = SelectField("Move to version", coerce=int)
    reason = TextAreaField(
        "Reason", validators=[DataRequired(message="Give the reason."), Length(max=2000)]
    )
