"""Forms of the case page: a change of status and a certificate re-issue, each with a reason."""

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..forms import BaseForm


class StatusForm(BaseForm):
    to_state = SelectField(
        _l("New status"), validators=[DataRequired(message=_l("Choose the new status."))]
    )
    reason = TextAreaField(
        _l("Reason"),
        validators=[DataRequired(message=_l("Give the reason.")), Length(max=2000)],
    )


class ReissueForm(BaseForm):
    reason = TextAreaField(
        _l("What is corrected"),
        validators=[
            DataRequired(message=_l("Give the reason for the correction.")),
            Length(max=2000),
        ],
    )
