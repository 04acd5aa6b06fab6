"""Serving stored document bytes exactly as issued, for every audience that may download them."""

from __future__ import annotations

import io

from flask import send_file

from .models import Certificate


def certificate_response(cert: Certificate):
    response = send_file(
        io.BytesIO(cert.pdf),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=cert.filename,
    )
    # Lets a clerk compare what he received with the hash shown on the verify page.
    response.headers["X-Content-SHA256"] = cert.sha256
    response.headers["Cache-Control"] = "private, no-store"
    return response
