"""Admin forms: certificates, courts, cohorts and their sessions, enrollments."""

from urllib.parse import urlsplit

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..forms import BaseForm
from ..i18n import offered_languages
from ..models.enrollments import REFERRAL_LABELS, STATE_LABELS
from ..names import clean_name
from ..services.enrollments import EMAIL_RE
from ..services.scheduling import COMMON_TIMEZONES, US_STATES, is_timezone

OTHER = "other"


class RevokeForm(BaseForm):
    reason = TextAreaField(
        _l("Reason"), validators=[DataRequired(message=_l("Give the reason.")), Length(max=2000)]
    )


class IssueAgainForm(BaseForm):
    """The director's decision to certify a case again after its certificate was revoked."""

    reason = TextAreaField(
        _l("Why a new certificate"),
        validators=[
            DataRequired(message=_l("Give the reason for issuing a new certificate.")),
            Length(max=2000),
        ],
    )


class MoveVersionForm(BaseForm):
    version_id = SelectField(_l("Move to version"), coerce=int)
    reason = TextAreaField(
        _l("Reason"), validators=[DataRequired(message=_l("Give the reason.")), Length(max=2000)]
    )


class ReviewerForm(BaseForm):
    # Empty: the cohort's facilitators; otherwise one facilitator's email.
    reviewer = SelectField(_l("Reviews go to"), default="")
    reason = TextAreaField(
        _l("Reason"), validators=[DataRequired(message=_l("Give the reason.")), Length(max=2000)]
    )


class CheckboxesField(SelectMultipleField):
    """A multiple choice shown as checkboxes, easier than a multi-select on a phone."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class TimezoneMixin:
    """A menu of common US timezones, and a box for any other IANA name."""

    timezone = SelectField(
        _l("Timezone"),
        choices=[*COMMON_TIMEZONES, (OTHER, _l("Other (type its IANA name below)"))],
        default="America/Los_Angeles",
    )
    other_timezone = StringField(
        _l("Other timezone"),
        validators=[Optional(), Length(max=64)],
        description=_l("e.g. Europe/Dublin"),
    )

    def validate_other_timezone(self, field):
        if self.timezone.data == OTHER:
            if not field.data:
                raise ValidationError(_("Type the timezone's IANA name, e.g. America/Boise."))
            if not is_timezone(field.data):
                raise ValidationError(_("“%(name)s” is not a timezone we know.", name=field.data))

    @property
    def chosen_timezone(self) -> str:
        return self.other_timezone.data if self.timezone.data == OTHER else self.timezone.data

    def show_timezone(self, name: str) -> None:
        if name in dict(COMMON_TIMEZONES):
            self.timezone.data = name
        else:
            self.timezone.data, self.other_timezone.data = OTHER, name


class CourtForm(TimezoneMixin, BaseForm):
    # Names lose their bidirectional controls before they are checked (names.py).
    name = StringField(
        _l("Name"),
        validators=[DataRequired(message=_l("Give the name.")), Length(max=200)],
        filters=[clean_name],
    )
    jurisdiction = StringField(
        _l("Jurisdiction"),
        validators=[DataRequired(message=_l("Give the jurisdiction.")), Length(max=200)],
        filters=[clean_name],
    )
    notice_deadline_days = IntegerField(
        _l("Notice deadline (days)"),
        default=7,
        validators=[
            DataRequired(message=_l("Give a number of days from 1 to 90.")),
            NumberRange(min=1, max=90, message=_l("Give a number of days from 1 to 90.")),
        ],
    )
    # The language its PDFs are written in; each language is named in itself, as in the picker.
    language = SelectField(_l("Language of court documents"), default="en")
    # Whose public holidays its men's sessions are checked against.
    state = SelectField(
        _l("State"),
        default="",
        choices=[("", _l("Not set: no holiday warnings"))] + list(US_STATES.items()),
    )
    # Certificates go into a public court file: titles only for a court that asks for them.
    session_titles_on_documents = BooleanField(
        _l(
            "List session titles on this court's documents (otherwise number, date,"
            " attendance and hours only)"
        )
    )
    requires_date_of_birth = BooleanField(_l("Enrollment needs his date of birth"), default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only languages whose catalog loaded: a document in any other would be in English.
        self.language.choices = list(offered_languages().items())


def _check_video_link(_form, field):
    if field.data:
        parts = urlsplit(field.data)
        if parts.scheme != "https" or not parts.netloc:
            raise ValidationError(_("Give a full address starting with https://"))


class CohortDetailsForm(BaseForm):
    """What can change once a cohort exists."""

    name = StringField(
        _l("Name"),
        validators=[DataRequired(message=_l("Give a name.")), Length(max=120)],
        filters=[clean_name],
    )
    facilitators = CheckboxesField(_l("Facilitators"), coerce=int)
    # No Optional() on these two: it would skip the check that one of them is given.
    location = StringField(_l("Location"), validators=[Length(max=300)])
    video_link = StringField(_l("Video link"), validators=[Length(max=500), _check_video_link])

    def validate_facilitators(self, field):
        if not field.data:
            raise ValidationError(_("Choose at least one facilitator."))

    def validate_video_link(self, field):
        if not field.data and not self.location.data:
            raise ValidationError(_("Give a location, a video link, or both."))


class HolidayChoiceMixin:
    """The answer to a warning that a session falls on a public holiday: the one-click button
    that moves it to the next free day, or the box that keeps the date deliberately."""

    move_to_free_day = SubmitField(_l("Move to the next free day"))
    keep_holiday = BooleanField(_l("Keep the date anyway"))

    @property
    def on_holiday(self) -> str:
        if self.move_to_free_day.data:
            return "move"
        return "keep" if self.keep_holiday.data else "warn"


# A cohort's day of the week, Monday first as Cohort.weekday counts, in the reader's language.
WEEKDAY_NAMES = [
    _l("Monday"),
    _l("Tuesday"),
    _l("Wednesday"),
    _l("Thursday"),
    _l("Friday"),
    _l("Saturday"),
    _l("Sunday"),
]


class CohortForm(HolidayChoiceMixin, TimezoneMixin, CohortDetailsForm):
    version_id = SelectField(_l("Program version"), coerce=int)
    start_date = DateField(
        _l("Start date"), validators=[DataRequired(message=_l("Give a date as YYYY-MM-DD."))]
    )
    weekday = SelectField(
        _l("Meets every"),
        coerce=int,
        choices=list(enumerate(WEEKDAY_NAMES)),
    )
    start_time = TimeField(_l("Start time"), validators=[DataRequired(message=_l("Give a time."))])


class RescheduleForm(HolidayChoiceMixin, BaseForm):
    day = DateField(
        _l("New date"), validators=[DataRequired(message=_l("Give a date as YYYY-MM-DD."))]
    )
    at = TimeField(_l("New start time"), validators=[DataRequired(message=_l("Give a time."))])
    reason = TextAreaField(
        _l("Reason"), validators=[DataRequired(message=_l("Give the reason.")), Length(max=2000)]
    )


class CancelSessionForm(BaseForm):
    reason = TextAreaField(
        _l("Reason"), validators=[DataRequired(message=_l("Give the reason.")), Length(max=2000)]
    )


def _override(label, minimum: int) -> IntegerField:
    return IntegerField(
        label,
        validators=[
            Optional(),
            NumberRange(
                min=minimum,
                max=1000,
                message=_l("Give a whole number from %(min)d to 1000.", min=minimum),
            ),
        ],
    )


class EnrollForm(BaseForm):
    participant_id = SelectField(_l("Existing participant"), coerce=int, default=0)
    # Required only for a new participant: checked below, so no Optional() here.
    full_name = StringField(_l("Full name"), validators=[Length(max=200)], filters=[clean_name])
    email = StringField(_l("Email"), validators=[Length(max=254)])
    cohort_id = SelectField(_l("Cohort"), coerce=int)
    court_id = SelectField(_l("Court"), coerce=int)
    case_number = StringField(
        _l("Case or docket number"),
        validators=[DataRequired(message=_l("Give the case number.")), Length(max=80)],
        filters=[clean_name],
    )
    referral_type = SelectField(
        _l("Referral type"), choices=[(t.value, label) for t, label in REFERRAL_LABELS.items()]
    )
    referral_date = DateField(
        _l("Referral date"), validators=[DataRequired(message=_l("Give a date as YYYY-MM-DD."))]
    )
    completion_deadline = DateField(_l("Completion deadline"), validators=[Optional()])
    starts_on = DateField(_l("Enrollment starts on"), validators=[Optional()])
    sessions_required = _override(_l("Sessions required"), 1)
    max_absences = _override(_l("Maximum absences"), 0)
    max_consecutive_absences = _override(_l("Maximum absences in a row"), 0)
    max_gap_days = _override(_l("Maximum days without attendance"), 1)
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])
    # Who he is beyond his name; the service says when his court needs the date of birth.
    date_of_birth = DateField(_l("Date of birth"), validators=[Optional()])
    court_person_number = StringField(
        _l("Court person or booking number"), [Length(max=80)], filters=[clean_name]
    )
    # The referral's parties, whom the court documents address and copy.
    court_department = StringField(_l("Department or judge"), [Length(max=200)])
    prosecutor = StringField(_l("Prosecutor or city attorney"), [Length(max=200)])
    defense_attorney = StringField(_l("Defense attorney"), [Length(max=200)])
    probation_officer = StringField(_l("Probation officer"), [Length(max=200)])

    PARTIES = ("court_department", "prosecutor", "defense_attorney", "probation_officer")
    OVERRIDES = ("sessions_required", "max_absences", "max_consecutive_absences", "max_gap_days")

    def validate_participant_id(self, field):
        new = self.full_name.data or self.email.data
        if field.data and new:
            raise ValidationError(_("Choose an existing participant or enter a new one, not both."))
        if not field.data and not new:
            raise ValidationError(_("Choose a participant, or enter a new one's name and email."))

    def validate_full_name(self, field):
        if not self.participant_id.data and self.email.data and not field.data:
            raise ValidationError(_("Give his full name."))

    def validate_email(self, field):
        if self.participant_id.data or not (field.data or self.full_name.data):
            return
        if not field.data:
            raise ValidationError(_("Give his email address."))
        if not EMAIL_RE.match(field.data):
            raise ValidationError(_("Give a valid email address, like name@example.com."))

    def validate_completion_deadline(self, field):
        if field.data and self.referral_date.data and field.data <= self.referral_date.data:
            raise ValidationError(_("The deadline must be after the referral date."))

    @property
    def parties(self) -> dict:
        return {k: self[k].data or "" for k in self.PARTIES}

    @property
    def overrides(self) -> dict:
        return {k: self[k].data for k in self.OVERRIDES if self[k].data is not None}


class ReferralDetailsForm(BaseForm):
    """Corrections to who he is and to whom his court documents go."""

    date_of_birth = EnrollForm.date_of_birth
    court_person_number = EnrollForm.court_person_number
    court_department = EnrollForm.court_department
    prosecutor = EnrollForm.prosecutor
    defense_attorney = EnrollForm.defense_attorney
    probation_officer = EnrollForm.probation_officer

    PARTIES = EnrollForm.PARTIES
    parties = EnrollForm.parties


class EnrollmentSearchForm(BaseForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = StringField(_l("Case number"), validators=[Optional(), Length(max=80)])
    court = SelectField(_l("Court"), coerce=int, default=0, validators=[Optional()])
    cohort = SelectField(_l("Cohort"), coerce=int, default=0, validators=[Optional()])
    state = SelectField(
        _l("Status"),
        choices=[("", _l("Any status")), *[(s.value, label) for s, label in STATE_LABELS.items()]],
        validators=[Optional()],
    )


class ProviderForm(BaseForm):
    """The program as an agency: the letterhead of every court document."""

    legal_name = StringField(
        _l("Legal name"),
        validators=[DataRequired(message=_l("Give the program's legal name.")), Length(max=200)],
        filters=[clean_name],
    )
    address = TextAreaField(_l("Address"), validators=[Length(max=500)])
    phone = StringField(_l("Phone"), validators=[Length(max=40)])
    email = StringField(_l("Email"), validators=[Length(max=254)])
    license_number = StringField(_l("State certification or license number"), [Length(max=80)])
    director_name = StringField(_l("Director's name"), [Length(max=200)], filters=[clean_name])
    director_title = StringField(_l("Director's title"), [Length(max=200)], filters=[clean_name])
    logo = FileField(
        _l("Logo (PNG or SVG)"),
        validators=[
            Optional(),
            FileAllowed(["png", "svg"], _l("Upload the logo as a PNG or SVG image.")),
        ],
    )
    remove_logo = BooleanField(_l("Remove the logo"))

    def validate_email(self, field):
        if field.data and not EMAIL_RE.match(field.data):
            raise ValidationError(_("Give a valid email address, like name@example.com."))
