"""Form bases shared by every blueprint: whitespace stripping, hostile input cleaned or refused
with a message, and a POST-only button form."""

from datetime import date, datetime

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DateTimeField,
    FieldList,
    FormField,
    IntegerField,
    StringField,
    TextAreaField,
)

from .inputs import MAX_ID, has_control, without_control

# The years a date typed into any form may fall in. Dates far outside the program's life are
# typing mistakes or probes, and arithmetic on them (a day after 9999-12-31) overflows.
FIRST_YEAR, LAST_YEAR = 1900, 2199


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _drop_control(value):
    """Prose (a reflection, a comment, a reason): a stray control character is harmless to
    remove, and refusing the text would lose a man's draft; tabs and line breaks stay."""
    return without_control(value) if isinstance(value, str) else value


def _refuse_control(value):
    """Any other field (an email, a code, a name, a choice): a control character changes what
    the value means, so it is refused with a message, never silently removed. WTForms reports
    a filter's ValueError as the field's error."""
    values = value if isinstance(value, list | tuple) else [value]
    if any(isinstance(v, str) and has_control(v) for v in values):
        raise ValueError(_("This contains a control character, which cannot be used here."))
    return value


def _date_in_range(value):
    if isinstance(value, date | datetime) and not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(
            _("Give a date from %(first)d to %(last)d.", first=FIRST_YEAR, last=LAST_YEAR)
        )
    return value


def _number_in_range(value):
    # Every number a form stores goes into a 32-bit INTEGER column on PostgreSQL.
    if isinstance(value, int) and not -MAX_ID <= value <= MAX_ID:
        raise ValueError(_("This number is too large."))
    return value


def _input_filters(field_class, strip: bool) -> list:
    """The filters every field of a class gets before its own, in order."""
    if issubclass(field_class, TextAreaField):
        return [_drop_control, *([_strip] if strip else [])]
    filters = [*([_strip] if strip else []), _refuse_control]
    if issubclass(field_class, DateField | DateTimeField):
        filters.append(_date_in_range)
    if issubclass(field_class, IntegerField):
        filters.append(_number_in_range)
    return filters


class BaseForm(FlaskForm):
    # Names of text fields whose whitespace matters (passwords, written answers).
    keep_whitespace: frozenset[str] = frozenset()

    class Meta:
        def bind_field(self, form, unbound_field, options):
            if issubclass(unbound_field.field_class, FieldList | FormField):
                # Enclosures take no filters; the fields they enclose get their own.
                return unbound_field.bind(form=form, **options)
            is_text = issubclass(unbound_field.field_class, StringField)
            strip = is_text and options.get("name") not in form.keep_whitespace
            filters = [
                *_input_filters(unbound_field.field_class, strip),
                *unbound_field.kwargs.get("filters", []),
            ]
            return unbound_field.bind(form=form, filters=filters, **options)


class EmptyForm(BaseForm):
    """For POST-only buttons, so CSRF protects them too."""
