"""Attendance roster and review forms."""

from wtforms import (
    FieldList,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..forms import BaseForm
from ..models import AttendanceStatus, ReviewOutcome

ROSTER_CHOICES = [(s.value, s.label) for s in AttendanceStatus if s is not AttendanceStatus.MADE_UP]


class RosterRowForm(BaseForm):
    class Meta:
        csrf = False  # the enclosing roster form carries the token

    enrollment_id = IntegerField(widget=HiddenField.widget, validators=[InputRequired()])
    status = SelectField(
        "Status", choices=[("", "Not marked"), *ROSTER_CHOICES], validators=[Optional()]
    )
    minutes = IntegerField("Minutes", validators=[Optional(), NumberRange(min=0, max=1440)])
    note = StringField("Note", validators=[Length(max=500)])
    reason = StringField("Reason for change", validators=[Length(max=500)])


class RosterForm(BaseForm):
    rows = FieldList(FormField(RosterRowForm))


class ReviewForm(BaseForm):
    outcome = RadioField(
        "Outcome",
        choices=[(o.value, o.label) for o in ReviewOutcome],
        validators=[InputRequired(message="Choose accept or return.")],
    )
    comment = TextAreaField("Comment to the participant", validators=[Length(max=5000)])
