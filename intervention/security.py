"""Browser protections sent with every response: CSP, referrer, sniffing, HSTS, caching."""

from __future__ import annotations

from flask import Flask, Response, request
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

# No 'unsafe-inline' anywhere: scripts and styles come only from static/ files.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
HSTS = "max-age=31536000; includeSubDomains"


def register(app: Flask) -> None:
    hops = app.config.get("PROXY_HOPS") or 0
    if hops:
        # Behind N reverse proxies, trust their X-Forwarded-* so request.is_secure and
        # remote_addr (rate limits, audit) describe the real client, not the proxy.
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )
    app.after_request(add_security_headers)


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    # A view serving an uploaded file (the letterhead logo) sets a stricter policy and keeps it.
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Permissions-Policy"] = PERMISSIONS_POLICY
    # Views that set a stricter policy (verification codes in the URL) keep it.
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.is_secure:
        headers["Strict-Transport-Security"] = HSTS
    if response.mimetype == "text/html":
        # Pages are in the reader's language (his browser's, or the `lang` cookie's): a shared
        # cache must not hand one reader's Spanish page to another who reads English.
        response.vary.update(("Accept-Language", "Cookie"))
    if current_user.is_authenticated and _may_be_stored(response):
        # A shared computer's back button or a proxy must not replay someone's case.
        headers["Cache-Control"] = "no-store"
    return response


def _may_be_stored(response: Response) -> bool:
    """True unless the view already chose: no-store, or its own policy for a file."""
    cache_control = response.headers.get("Cache-Control", "")
    if "no-store" in cache_control:
        return False
    # Pages and data always; files (course images, static) keep what their view decided.
    return not cache_control or response.mimetype in ("text/html", "application/json")
