"""The WSGI entry point for gunicorn: `gunicorn wsgi:app`."""

from intervention import create_app

app = create_app()
