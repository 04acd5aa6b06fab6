"""Benchmark: the SQL queries each busy page sends, per request, against a database filled by
`flask --app intervention seed-demo --scale N --manifest m.json`. Signs in as the manifest's
participants, facilitator and clerk through the Flask test client and prints one line per
page: its status and its query count (lowest and highest over the participants).

    INTERVENTION_DATABASE_URL=... .venv/bin/python bench/query_counts.py --manifest m.json

Changes nothing but the drafts it saves (their text stays the same) and the audit events
that signing in, viewing a case and verifying a certificate record.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.querycount import counting  # noqa: E402  (the repository root is on the path now)

REVISION = re.compile(r'<input[^>]*name="revision"[^>]*value="(\d+)"')
TEXTAREA = re.compile(r'<textarea[^>]*id="text"[^>]*>(.*?)</textarea>', re.S)


@dataclass
class PageCounts:
    """One page's statuses and query counts, over every person it was requested as."""

    statuses: set[int] = field(default_factory=set)
    counts: list[int] = field(default_factory=list)

    def line(self, name: str) -> str:
        low, high = min(self.counts), max(self.counts)
        queries = str(low) if low == high else f"{low}-{high}"
        status = ",".join(str(s) for s in sorted(self.statuses))
        return f"| {name} | {status} | {queries} |"


class Bench:
    def __init__(self, app, engine):
        self.app = app
        self.engine = engine
        self.pages: dict[str, PageCounts] = {}

    def client(self, email: str, password: str):
        """A test client signed in through the sign-in form, as a browser is."""
        client = self.app.test_client()
        response = client.post("/login", data={"email": email, "password": password})
        if response.status_code != 302 or "/login" in response.headers.get("Location", ""):
            sys.exit(f"could not sign in as {email} (status {response.status_code})")
        return client

    def measure(self, name: str, client, method: str, url: str, **kwargs):
        with counting(self.engine) as log:
            response = client.open(url, method=method, **kwargs)
        page = self.pages.setdefault(name, PageCounts())
        page.statuses.add(response.status_code)
        page.counts.append(log.count)
        return response

    def participant(self, man: dict, password: str) -> None:
        client = self.client(man["email"], password)
        self.measure("participant dashboard", client, "GET", "/me/")
        self.measure("module page", client, "GET", f"/me/modules/{man['module_number']}")
        url = f"/me/reflections/{man['prompt_id']}"
        html = self.measure("reflection page", client, "GET", url).get_data(as_text=True)
        revision, text = REVISION.search(html), TEXTAREA.search(html)
        if revision is None or text is None:
            sys.exit(f"no editable draft on {url} for {man['email']}")
        # The same text again: only the draft's revision and time move.
        self.measure(
            "reflection draft save",
            client,
            "POST",
            f"{url}/draft",
            data={"text": unescape(text.group(1)), "revision": revision.group(1)},
            headers={"Accept": "application/json"},
        )

    def facilitator(self, who: dict, password: str) -> None:
        client = self.client(who["email"], password)
        self.measure("review queue", client, "GET", "/facilitator/reviews")
        self.measure("cohort grid", client, "GET", f"/facilitator/cohorts/{who['cohort_id']}")

    def clerk(self, who: dict, password: str) -> None:
        client = self.client(who["email"], password)
        self.measure(
            "clerk search", client, "GET", "/court/", query_string={"q": who["search_query"]}
        )
        self.measure("clerk case", client, "GET", f"/court/cases/{who['case_enrollment_id']}")

    def verify(self, certificate: dict) -> None:
        client = self.app.test_client()
        code = certificate["code"]
        self.measure("verify by code", client, "POST", "/verify", data={"code": code})
        self.measure("verify link", client, "GET", f"/verify/{code}")


def unescape(html_text: str) -> str:
    """The textarea's content as the browser would send it back."""
    return html.unescape(html_text.removeprefix("\n"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", required=True, type=Path)
    args = parser.parse_args()
    manifest = json.loads(args.manifest.read_text())

    from intervention import create_app
    from intervention.extensions import db

    # CSRF and rate limits are off: neither reads the database, and a rerun must not be
    # refused for asking too often.
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "DEMO_MODE": False})
    with app.app_context():
        engine = db.engine
    # No app context held from here: each request has its own, so its own empty session,
    # as in production.
    bench = Bench(app, engine)
    password = manifest["password"]
    for man in manifest["participants"]:
        bench.participant(man, password)
    bench.facilitator(manifest["facilitator"], password)
    bench.clerk(manifest["clerk"], password)
    bench.verify(manifest["certificate"])
    database = engine.dialect.name

    print(f"Queries per request, {database}, {manifest['scale']} participants")
    print(f"({len(manifest['participants'])} participants; a range is lowest-highest)\n")
    print("| page | status | queries |")
    print("| --- | --- | --- |")
    for name, page in bench.pages.items():
        print(page.line(name))


if __name__ == "__main__":
    main()
