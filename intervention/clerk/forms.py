"""Case search and the date range of a bulk download; both are GET forms that change nothing."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from ..forms import BaseForm
from ..models.enrollments import STATE_LABELS

# A bulk download covers at most this many days, so one request cannot stream years of PDFs.
MAX_EXPORT_DAYS = 366


class CaseSearchForm(BaseForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = StringField(_l("Docket number or name"), validators=[Optional(), Length(max=120)])
    status = SelectField(
        _l("Status"),
        choices=[("", _l("Any status")), *[(s.value, label) for s, label in STATE_LABELS.items()]],
        validators=[Optional()],
    )
    referred_from = DateField(_l("Referred from"), validators=[Optional()])
    referred_to = DateField(_l("Referred to"), validators=[Optional()])

    def validate_referred_to(self, field) -> None:
        if field.data and self.referred_from.data and field.data < self.referred_from.data:
            raise ValidationError(_("The end date is before the start date."))

    def filters(self) -> dict:
        """The search as query arguments, for pager and CSV links that keep it."""
        start, end = self.referred_from.data, self.referred_to.data
        return {
            "q": self.q.data or None,
            "status": self.status.data or None,
            "referred_from": start.isoformat() if start else None,
            "referred_to": end.isoformat() if end else None,
        }


class ExportForm(BaseForm):
    class Meta:
        csrf = False  # a download changes nothing; it is audited

    # Named `from` and `to` in the URL: /court/export.zip?from=2026-01-01&to=2026-01-31
    date_from = DateField(
        _l("Issued from"),
        name="from",
        validators=[InputRequired(_l("Give the first day as YYYY-MM-DD."))],
    )
    date_to = DateField(
        _l("Issued to"),
        name="to",
        validators=[InputRequired(_l("Give the last day as YYYY-MM-DD."))],
    )

    def validate_date_to(self, field) -> None:
        start = self.date_from.data
        if not (field.data and start):
            return
        if field.data < start:
            raise ValidationError(_("The last day is before the first day."))
        if (field.data - start).days >= MAX_EXPORT_DAYS:
            raise ValidationError(
                _("Download at most %(num)d days at a time.", num=MAX_EXPORT_DAYS)
            )
