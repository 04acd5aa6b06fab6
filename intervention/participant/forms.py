"""The reflection editor: one form, two buttons (save draft, submit), and the same text and
revision posted by the editor's autosave."""

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, IntegerField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length

from ..forms import BaseForm

MAX_ANSWER = 20_000


class DraftForm(BaseForm):
    keep_whitespace = frozenset({"text"})

    text = TextAreaField(
        _l("Your answer"),
        validators=[
            Length(
                max=MAX_ANSWER,
                message=_l("Keep your answer under %(max)d characters.", max=MAX_ANSWER),
            )
        ],
    )
    # The draft revision this page was loaded with; a newer one means another tab saved.
    revision = IntegerField(widget=HiddenField.widget, validators=[InputRequired()])


class ReflectionForm(DraftForm):
    save = SubmitField(_l("Save draft"))
    submit = SubmitField(_l("Submit for review"))
