"""Form bases shared by every blueprint: whitespace stripping and a POST-only button form."""

from flask_wtf import FlaskForm
from wtforms import StringField


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class BaseForm(FlaskForm):
    # Names of text fields whose whitespace matters (passwords, written answers).
    keep_whitespace: frozenset[str] = frozenset()

    class Meta:
        def bind_field(self, form, unbound_field, options):
            filters = list(unbound_field.kwargs.get("filters", []))
            is_text = issubclass(unbound_field.field_class, StringField)
            if is_text and options.get("name") not in form.keep_whitespace:
                filters.insert(0, _strip)
                return unbound_field.bind(form=form, filters=filters, **options)
            return unbound_field.bind(form=form, **options)


class EmptyForm(BaseForm):
    """For POST-only buttons, so CSRF protects them too."""
