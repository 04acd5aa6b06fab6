"""Forms of the case page: a change of status and a certificate re-issue, each with a reason."""

from wtforms import SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..forms import BaseForm


class StatusForm(BaseForm):
    to_state = SelectField(
        "New status", validators=[DataRequired(message="Choose the new status.")]
    )
    reason = TextAreaField(
        "Reason",
        validators=[DataRequired(message="Give the reason."), Length(max=2000)],
    )


class ReissueForm(BaseForm):
    reason = TextAreaField(
        "What is corrected",
        validators=[DataRequired(message="Give the reason for the correction."), Length(max=2000)],
    )
