"""Attendance roster, make-up, import, notice and review forms."""

from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    DateField,
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
from ..services.notices import SEND_METHODS

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


class MakeupForm(BaseForm):
    # Choices are the men who may make up this module here; the service explains a refusal.
    enrollment_id = SelectField(
        "Participant",
        coerce=lambda value: int(value) if value not in ("", None) else None,
        validate_choice=False,
        validators=[InputRequired(message="Choose the man who made up the session.")],
    )
    minutes = IntegerField(
        "Minutes", validators=[Optional(), NumberRange(min=0, max=1440, message="0 to 1440.")]
    )
    note = StringField("Note", validators=[Length(max=500)])


class RosterImportForm(BaseForm):
    file = FileField(
        "Roster file (CSV)",
        validators=[
            FileRequired(message="Choose the CSV file to upload."),
            FileAllowed(["csv", "txt"], "Upload a .csv file."),
        ],
    )


class NoticeSentForm(BaseForm):
    sent_on = DateField("Date sent", validators=[InputRequired(message="Enter the date sent.")])
    method = SelectField(
        "Sent by",
        choices=[("", "Choose…"), *[(m, m) for m in SEND_METHODS]],
        validators=[InputRequired(message="Choose how it was sent.")],
    )


class ReviewForm(BaseForm):
    outcome = RadioField(
        "Outcome",
        choices=[(o.value, o.label) for o in ReviewOutcome],
        validators=[InputRequired(message="Choose accept or return.")],
    )
    comment = TextAreaField("Comment to the participant", validators=[Length(max=5000)])
    # (criterion, its select) for each criterion of the program's rubric; see review_form().
    rubric: list[tuple[dict, SelectField]] = []

    @property
    def scores(self) -> dict[str, int]:
        """{criterion id: level index} for the criteria that were scored."""
        return {c["id"]: int(f.data) for c, f in self.rubric if f.data not in ("", None)}


def review_form(criteria: list[dict]) -> ReviewForm:
    """The review form with one optional select per rubric criterion."""

    class RubricReviewForm(ReviewForm):
        pass

    # Fields are named by position: criterion ids come from program authors.
    for i, criterion in enumerate(criteria):
        levels = [(str(n), level) for n, level in enumerate(criterion["levels"])]
        setattr(
            RubricReviewForm,
            f"rubric_{i}",
            SelectField(criterion["title"], choices=[("", "Not scored"), *levels], default=""),
        )
    form = RubricReviewForm()
    form.rubric = [(c, form[f"rubric_{i}"]) for i, c in enumerate(criteria)]
    return form


QUEUE_STATE_CHOICES = [
    ("waiting", "Waiting"),
    ("returned", "Returned for revision"),
    ("accepted", "Accepted"),
]


class QueueFilterForm(BaseForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    cohort = SelectField("Cohort", coerce=int, default=0, validators=[Optional()])
    module = SelectField("Session", coerce=int, default=0, validators=[Optional()])
    state = SelectField(
        "State", choices=QUEUE_STATE_CHOICES, default="waiting", validators=[Optional()]
    )
