"""Case search."""

from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional

from ..forms import BaseForm
from ..models import EnrollmentState


class CaseSearchForm(BaseForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = StringField("Docket number or name", validators=[Optional(), Length(max=120)])
    status = SelectField(
        "Status",
        choices=[("", "Any status"), *[(s.value, s.label) for s in EnrollmentState]],
        validators=[Optional()],
    )
