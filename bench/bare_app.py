"""The baseline of bench/load.py: a Flask route returning a small HTML page, nothing else, served
by gunicorn with the same settings as the app (`gunicorn -c gunicorn.conf.py bench.bare_app:app`).
Each page of the app is reported as a ratio to this route."""

from flask import Flask

PAGE = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Bare route</title></head>"
    "<body><h1>Bare route</h1><p>A Flask route and nothing else.</p></body></html>"
)

app = Flask(__name__)


@app.route("/")
def index() -> str:
    return PAGE
