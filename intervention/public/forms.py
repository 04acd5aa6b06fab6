"""Certificate verification form: a code, or the PDF itself."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField
from wtforms import StringField
from wtforms.validators import Length, Optional

from ..forms import BaseForm


class VerifyForm(BaseForm):
    code = StringField(_l("Verification code"), validators=[Optional(), Length(max=40)])
    pdf = FileField(
        _l("Or upload the certificate PDF"),
        validators=[Optional(), FileAllowed(["pdf"], _l("Upload the certificate as a PDF file."))],
    )

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if not self.code.data and not self.pdf.data:
            self.code.errors.append(
                _("Enter the code printed on the certificate, or upload the PDF.")
            )
            return False
        return True
