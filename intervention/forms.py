"""Form bases shared by every blueprint: whitespace stripping and a POST-only button form."""

from flask_wtf import FlaskForm


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class BaseForm(FlaskForm):
    class Meta:
        def bind_field(self, form, unbound_field, options):
            # Strip surrounding whitespace from every text field, except where a field opts out.
            filters = unbound_field.kwargs.get("filters", [])
            if not unbound_field.kwargs.pop("keep_whitespace", False):
                filters = [_strip, *filters]
            return unbound_field.bind(form=form, filters=filters, **options)


class EmptyForm(BaseForm):
    """For POST-only buttons, so CSRF protects them too."""
