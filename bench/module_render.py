"""Benchmark: a module page served from the HTML rendered once per version, against the same
page rendering its Markdown on every request. Prints both figures and their ratio, measured
in one run on this machine.

    .venv/bin/python bench/module_render.py [--requests 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    instance = tempfile.mkdtemp(prefix="bench-")
    os.environ["INTERVENTION_INSTANCE"] = instance
    os.environ.pop("INTERVENTION_DATABASE_URL", None)

    from flask_migrate import upgrade
    from sqlalchemy.orm.attributes import set_committed_value

    from intervention import create_app
    from intervention.curriculum.render import render_module
    from intervention.demo import seed
    from intervention.extensions import db
    from intervention.models import CurriculumVersion

    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "DEMO_MODE": False})
    with app.app_context():
        upgrade()
        seed()
        db.session.commit()

    client = app.test_client()
    response = client.post(
        "/login", data={"email": "participant@demo.test", "password": "demo-password"}
    )
    assert response.status_code == 302, "sign-in failed"
    url = "/me/modules/1"
    assert client.get(url).status_code == 200

    def timed(n: int) -> list[float]:
        samples = []
        for _ in range(n):
            start = time.perf_counter()
            assert client.get(url).status_code == 200
            samples.append(time.perf_counter() - start)
        return samples

    original = CurriculumVersion.module

    def render_each_time(self, number):
        module = original(self, number)
        if module is not None:
            # What a naive app would do: parse and sanitise the Markdown for every request.
            rendered = render_module(module.body_markdown, language=self.program.language)
            set_committed_value(module, "body_html", rendered.body_html)  # not a change to save
        return module

    timed(20)  # warm up both paths' caches
    cached = timed(args.requests)
    with mock.patch.object(CurriculumVersion, "module", render_each_time):
        timed(20)
        per_request = timed(args.requests)

    c, r = statistics.median(cached) * 1000, statistics.median(per_request) * 1000
    print(f"module page, {args.requests} requests each, median per request:")
    print(f"  rendered once per version (served from the database): {c:7.2f} ms")
    print(f"  rendered on every request:                            {r:7.2f} ms")
    print(f"  ratio per-request / cached: {r / c:.2f}x")


if __name__ == "__main__":
    main()
