"""Admin forms: certificates, courts, cohorts and their sessions, enrollments."""

from urllib.parse import urlsplit

from wtforms import (
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..forms import BaseForm
from ..models import EnrollmentState, ReferralType
from ..services.enrollments import EMAIL_RE
from ..services.scheduling import COMMON_TIMEZONES, WEEKDAYS, is_timezone

OTHER = "other"


class RevokeForm(BaseForm):
    reason = TextAreaField(
        "Reason", validators=[DataRequired(message="Give the reason."), Length(max=2000)]
    )


class MoveVersionForm(BaseForm):
    version_id = SelectField("Move to version", coerce=int)
    reason = TextAreaField(
        "Reason", validators=[DataRequired(message="Give the reason."), Length(max=2000)]
    )


class ReviewerForm(BaseForm):
    # Empty: the cohort's facilitators; otherwise one facilitator's email.
    reviewer = SelectField("Reviews go to", default="")
    reason = TextAreaField(
        "Reason", validators=[DataRequired(message="Give the reason."), Length(max=2000)]
    )


class CheckboxesField(SelectMultipleField):
    """A multiple choice shown as checkboxes, easier than a multi-select on a phone."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class TimezoneMixin:
    """A menu of common US timezones, and a box for any other IANA name."""

    timezone = SelectField(
        "Timezone",
        choices=[*COMMON_TIMEZONES, (OTHER, "Other (type its IANA name below)")],
        default="America/Los_Angeles",
    )
    other_timezone = StringField(
        "Other timezone", validators=[Optional(), Length(max=64)], description="e.g. Europe/Dublin"
    )

    def validate_other_timezone(self, field):
        if self.timezone.data == OTHER:
            if not field.data:
                raise ValidationError("Type the timezone's IANA name, e.g. America/Boise.")
            if not is_timezone(field.data):
                raise ValidationError(f"“{field.data}” is not a timezone we know.")

    @property
    def chosen_timezone(self) -> str:
        return self.other_timezone.data if self.timezone.data == OTHER else self.timezone.data

    def show_timezone(self, name: str) -> None:
        if name in dict(COMMON_TIMEZONES):
            self.timezone.data = name
        else:
            self.timezone.data, self.other_timezone.data = OTHER, name


class CourtForm(TimezoneMixin, BaseForm):
    name = StringField("Name", validators=[DataRequired(message="Give the name."), Length(max=200)])
    jurisdiction = StringField(
        "Jurisdiction",
        validators=[DataRequired(message="Give the jurisdiction."), Length(max=200)],
    )
    notice_deadline_days = IntegerField(
        "Notice deadline (days)",
        default=7,
        validators=[
            DataRequired(message="Give a number of days from 1 to 90."),
            NumberRange(min=1, max=90, message="Give a number of days from 1 to 90."),
        ],
    )


def _check_video_link(_form, field):
    if field.data:
        parts = urlsplit(field.data)
        if parts.scheme != "https" or not parts.netloc:
            raise ValidationError("Give a full address starting with https://")


class CohortDetailsForm(BaseForm):
    """What can change once a cohort exists."""

    name = StringField("Name", validators=[DataRequired(message="Give a name."), Length(max=120)])
    facilitators = CheckboxesField("Facilitators", coerce=int)
    # No Optional() on these two: it would skip the check that one of them is given.
    location = StringField("Location", validators=[Length(max=300)])
    video_link = StringField("Video link", validators=[Length(max=500), _check_video_link])

    def validate_facilitators(self, field):
        if not field.data:
            raise ValidationError("Choose at least one facilitator.")

    def validate_video_link(self, field):
        if not field.data and not self.location.data:
            raise ValidationError("Give a location, a video link, or both.")


class CohortForm(TimezoneMixin, CohortDetailsForm):
    version_id = SelectField("Program version", coerce=int)
    start_date = DateField(
        "Start date", validators=[DataRequired(message="Give a date as YYYY-MM-DD.")]
    )
    weekday = SelectField(
        "Meets every",
        coerce=int,
        choices=list(enumerate(WEEKDAYS)),
    )
    start_time = TimeField("Start time", validators=[DataRequired(message="Give a time.")])


class RescheduleForm(BaseForm):
    day = DateField("New date", validators=[DataRequired(message="Give a date as YYYY-MM-DD.")])
    at = TimeField("New start time", validators=[DataRequired(message="Give a time.")])
    reason = TextAreaField(
        "Reason", validators=[DataRequired(message="Give the reason."), Length(max=2000)]
    )


class CancelSessionForm(BaseForm):
    reason = TextAreaField(
        "Reason", validators=[DataRequired(message="Give the reason."), Length(max=2000)]
    )


def _override(label: str, minimum: int) -> IntegerField:
    return IntegerField(
        label,
        validators=[
            Optional(),
            NumberRange(
                min=minimum, max=1000, message=f"Give a whole number from {minimum} to 1000."
            ),
        ],
    )


class EnrollForm(BaseForm):
    participant_id = SelectField("Existing participant", coerce=int, default=0)
    # Required only for a new participant: checked below, so no Optional() here.
    full_name = StringField("Full name", validators=[Length(max=200)])
    email = StringField("Email", validators=[Length(max=254)])
    cohort_id = SelectField("Cohort", coerce=int)
    court_id = SelectField("Court", coerce=int)
    case_number = StringField(
        "Case or docket number",
        validators=[DataRequired(message="Give the case number."), Length(max=80)],
    )
    referral_type = SelectField("Referral type", choices=[(t.value, t.label) for t in ReferralType])
    referral_date = DateField(
        "Referral date", validators=[DataRequired(message="Give a date as YYYY-MM-DD.")]
    )
    completion_deadline = DateField("Completion deadline", validators=[Optional()])
    starts_on = DateField("Enrollment starts on", validators=[Optional()])
    sessions_required = _override("Sessions required", 1)
    max_absences = _override("Maximum absences", 0)
    max_consecutive_absences = _override("Maximum absences in a row", 0)
    max_gap_days = _override("Maximum days without attendance", 1)
    note = TextAreaField("Note", validators=[Optional(), Length(max=2000)])

    OVERRIDES = ("sessions_required", "max_absences", "max_consecutive_absences", "max_gap_days")

    def validate_participant_id(self, field):
        new = self.full_name.data or self.email.data
        if field.data and new:
            raise ValidationError("Choose an existing participant or enter a new one, not both.")
        if not field.data and not new:
            raise ValidationError("Choose a participant, or enter a new one's name and email.")

    def validate_full_name(self, field):
        if not self.participant_id.data and self.email.data and not field.data:
            raise ValidationError("Give his full name.")

    def validate_email(self, field):
        if self.participant_id.data or not (field.data or self.full_name.data):
            return
        if not field.data:
            raise ValidationError("Give his email address.")
        if not EMAIL_RE.match(field.data):
            raise ValidationError("Give a valid email address, like name@example.com.")

    def validate_completion_deadline(self, field):
        if field.data and self.referral_date.data and field.data <= self.referral_date.data:
            raise ValidationError("The deadline must be after the referral date.")

    @property
    def overrides(self) -> dict:
        return {k: self[k].data for k in self.OVERRIDES if self[k].data is not None}


class EnrollmentSearchForm(BaseForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = StringField("Case number", validators=[Optional(), Length(max=80)])
    court = SelectField("Court", coerce=int, default=0, validators=[Optional()])
    cohort = SelectField("Cohort", coerce=int, default=0, validators=[Optional()])
    state = SelectField(
        "Status",
        choices=[("", "Any status"), *[(s.value, s.label) for s in EnrollmentState]],
        validators=[Optional()],
    )
