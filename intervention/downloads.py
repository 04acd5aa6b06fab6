"""Serving stored document bytes exactly as issued, for every audience that may download them."""

from __future__ import annotations

import io

from flask import abort, send_file
from sqlalchemy import select

from .extensions import db
from .models import Certificate, CourtDocument, CurriculumAsset, CurriculumVersion


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


def document_response(doc: CourtDocument, filename: str):
    """A report or notice to the court, exactly as generated; 404 before it has a PDF."""
    if doc.sha256 is None:
        abort(404)
    response = send_file(
        io.BytesIO(doc.pdf), mimetype="application/pdf", as_attachment=True, download_name=filename
    )
    response.headers["X-Content-SHA256"] = doc.sha256
    response.headers["Cache-Control"] = "private, no-store"
    return response


def asset_response(version: CurriculumVersion, name: str):
    """An image or handout of the curriculum version this reader's cohort is pinned to."""
    asset = db.session.scalar(
        select(CurriculumAsset).where(
            CurriculumAsset.version_id == version.id, CurriculumAsset.path == name
        )
    )
    if asset is None:
        abort(404)
    response = send_file(
        io.BytesIO(asset.content),
        mimetype=asset.media_type,
        download_name=name.rsplit("/", 1)[-1],
        etag=asset.sha256,
        max_age=3600,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.public = False
    response.cache_control.private = True  # behind sign-in: no shared caches
    return response
