"""Forms of the case page: a change of status and a certificate re-issue, each with a reason;
contact attempts and the recommendation the notices and termination report carry."""

from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from ..forms import BaseForm
from ..models import CONTACT_METHODS, RECOMMENDATIONS


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


class ContactForm(BaseForm):
    on = DateField(_l("Date"), validators=[InputRequired(message=_l("Enter the date."))])
    method = SelectField(
        _l("How"),
        choices=[("", _l("Choose…")), *CONTACT_METHODS.items()],
        validators=[InputRequired(message=_l("Choose how you tried to reach him."))],
    )
    outcome = StringField(
        _l("Outcome"),
        validators=[
            DataRequired(message=_l("Say what came of it, e.g. \u201cno answer\u201d.")),
            Length(max=200),
        ],
    )


# A select, not a checkbox: "not stated" must stay different from "no".
REENROLL_CHOICES = [("", _l("Not stated")), ("yes", _l("Yes")), ("no", _l("No"))]


class RecommendationForm(BaseForm):
    recommendation = SelectField(
        _l("Recommendation to the court"),
        choices=list(RECOMMENDATIONS.items()),
        validators=[InputRequired(message=_l("Choose a recommendation."))],
    )
    text = TextAreaField(_l("Details (optional)"), validators=[Length(max=1000)])
    may_reenroll = SelectField(_l("May he enroll again?"), choices=REENROLL_CHOICES)

    @property
    def reenroll(self) -> bool | None:
        return {"yes": True, "no": False}.get(self.may_reenroll.data)
