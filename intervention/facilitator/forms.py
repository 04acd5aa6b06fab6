"""Attendance roster, make-up, import, notice and review forms."""

from flask_babel import lazy_gettext as _l
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

# How each way of sending a notice reads; the stored value stays the English name.
SEND_METHOD_LABELS = {
    "Mail": _l("Mail"),
    "Email": _l("Email"),
    "Fax": _l("Fax"),
    "Hand delivery": _l("Hand delivery"),
    "E-filing": _l("E-filing"),
}

ROSTER_CHOICES = [(s.value, s.label) for s in AttendanceStatus if s is not AttendanceStatus.MADE_UP]


class RosterRowForm(BaseForm):
    class Meta:
        csrf = False  # the enclosing roster form carries the token

    enrollment_id = IntegerField(widget=HiddenField.widget, validators=[InputRequired()])
    status = SelectField(
        _l("Status"), choices=[("", _l("Not marked")), *ROSTER_CHOICES], validators=[Optional()]
    )
    minutes = IntegerField(_l("Minutes"), validators=[Optional(), NumberRange(min=0, max=1440)])
    note = StringField(_l("Note"), validators=[Length(max=500)])
    reason = StringField(_l("Reason for change"), validators=[Length(max=500)])


class RosterForm(BaseForm):
    rows = FieldList(FormField(RosterRowForm))


class MakeupForm(BaseForm):
    # Choices are the men who may make up this module here; the service explains a refusal.
    enrollment_id = SelectField(
        _l("Participant"),
        coerce=lambda value: int(value) if value not in ("", None) else None,
        validate_choice=False,
        validators=[InputRequired(message=_l("Choose the man who made up the session."))],
    )
    minutes = IntegerField(
        _l("Minutes"),
        validators=[Optional(), NumberRange(min=0, max=1440, message=_l("0 to 1440."))],
    )
    note = StringField(_l("Note"), validators=[Length(max=500)])


class RosterImportForm(BaseForm):
    file = FileField(
        _l("Roster file (CSV)"),
        validators=[
            FileRequired(message=_l("Choose the CSV file to upload.")),
            FileAllowed(["csv", "txt"], _l("Upload a .csv file.")),
        ],
    )


class NoticeSentForm(BaseForm):
    sent_on = DateField(
        _l("Date sent"), validators=[InputRequired(message=_l("Enter the date sent."))]
    )
    method = SelectField(
        _l("Sent by"),
        choices=[("", _l("Choose…")), *[(m, SEND_METHOD_LABELS.get(m, m)) for m in SEND_METHODS]],
        validators=[InputRequired(message=_l("Choose how it was sent."))],
    )


class ReviewForm(BaseForm):
    outcome = RadioField(
        _l("Outcome"),
        choices=[(o.value, o.label) for o in ReviewOutcome],
        validators=[InputRequired(message=_l("Choose accept or return."))],
    )
    comment = TextAreaField(_l("Comment to the participant"), validators=[Length(max=5000)])
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
            SelectField(criterion["title"], choices=[("", _l("Not scored")), *levels], default=""),
        )
    form = RubricReviewForm()
    form.rubric = [(c, form[f"rubric_{i}"]) for i, c in enumerate(criteria)]
    return form


QUEUE_STATE_CHOICES = [
    ("waiting", _l("Waiting")),
    ("returned", _l("Returned for revision")),
    ("accepted", _l("Accepted")),
]


class QueueFilterForm(BaseForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    cohort = SelectField(_l("Cohort"), coerce=int, default=0, validators=[Optional()])
    module = SelectField(_l("Session"), coerce=int, default=0, validators=[Optional()])
    state = SelectField(
        _l("State"), choices=QUEUE_STATE_CHOICES, default="waiting", validators=[Optional()]
    )
