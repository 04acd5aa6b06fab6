"""The program as an agency: the letterhead and signer of every court document."""

from __future__ import annotations

from flask import (
    Response,
    abort,
    flash,
    redirect,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import FileStorage

from ..services import provider as provider_service
from ..transaction import Outcome, committed
from .forms import (
    ProviderForm,
)
from .views import bp, form_page


@bp.route("/provider", methods=["GET", "POST"])
def provider():
    record = provider_service.current()
    form = ProviderForm(obj=record)
    done = Outcome()
    if form.validate_on_submit():
        # Without an upload the field holds the stored logo (read from the record): keep it.
        upload = form.logo.data if isinstance(form.logo.data, FileStorage) else None
        if upload is not None and not upload.filename:
            upload = None  # a browser sends an empty file part when none was chosen
        with committed() as done:
            provider_service.save(
                actor=current_user,
                logo=upload.read() if upload else None,
                remove_logo=form.remove_logo.data,
                **{name: getattr(form, name).data for name in provider_service.FIELDS},
            )
        if done:
            flash(_("The program's letterhead is saved."), "success")
            return redirect(url_for(".provider"))
    return form_page("admin/provider_form.html", form=form, provider=record, error=done.error)


@bp.route("/provider/logo")
def provider_logo():
    """The stored (sanitised) logo, for the letterhead page's preview."""
    record = provider_service.current()
    if record is None or not record.logo:
        abort(404)
    response = Response(record.logo, content_type=record.logo_type)
    # Shown only as an <img>; opened on its own, an SVG may still run nothing or fetch nothing.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-cache"
    return response
