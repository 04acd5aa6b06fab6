"""Benchmark: issuing a certificate through services.certificates against a bare WeasyPrint render
of the same HTML, and re-downloading the stored certificate against generating it. Prints the
figures measured in one run on this machine, and their ratios; no pass or fail.

Issue 6 targets: generation within 1.3x of the bare render; re-download at least 20x faster
than generation.

    .venv/bin/python bench/certificate_generation.py [--runs 30] [--downloads 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="generations of each kind")
    parser.add_argument("--downloads", type=int, default=200)
    args = parser.parse_args()

    instance = tempfile.mkdtemp(prefix="bench-")
    os.environ["INTERVENTION_INSTANCE"] = instance
    os.environ.pop("INTERVENTION_DATABASE_URL", None)

    import weasyprint
    from flask_migrate import upgrade
    from sqlalchemy import select

    from intervention import create_app, pdf
    from intervention.demo import seed
    from intervention.extensions import db
    from intervention.models import Enrollment, EnrollmentState, User, utcnow
    from intervention.services import certificates, completion

    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "DEMO_MODE": False})
    with app.app_context():
        upgrade()
        seed()
        db.session.commit()

    # The HTML the service hands to WeasyPrint, captured so the bare render gets the same.
    captured: list[str] = []
    real_html = pdf.HTML

    def capturing_html(*a, **kw):
        captured.append(kw["string"])
        return real_html(*a, **kw)

    pdf.HTML = capturing_html
    static_uri = Path(app.static_folder).resolve().as_uri() + "/"

    def bare_render(html: str) -> bytes:
        # Same HTML, same base URL (so the stylesheets load), WeasyPrint's own URL fetcher.
        return weasyprint.HTML(string=html, base_url=static_uri).write_pdf(pdf_variant="pdf/a-3a")

    with app.app_context():
        facilitator = db.session.scalar(select(User).where(User.email == "facilitator@demo.test"))
        # The demo's second summer case: complete, certificate not issued yet.
        case = db.session.scalar(select(Enrollment).where(Enrollment.case_number == "SMC-26-55812"))
        assert case.state is EnrollmentState.ACTIVE and case.valid_certificate is None

        def timed_issue() -> float:
            """issue() in full: guards, completion check, number, render, hash, store, audit.
            Rolled back afterwards, so every run issues the same certificate anew."""
            nested = db.session.begin_nested()
            start = time.perf_counter()
            certificates.issue(case, facilitator)
            elapsed = time.perf_counter() - start
            nested.rollback()
            db.session.expire_all()  # reloaded as a fresh request would load them
            return elapsed

        def timed_store() -> float:
            """Render + hash + store only: the completion check is done before the clock."""
            result = completion.evaluate(case)
            nested = db.session.begin_nested()
            start = time.perf_counter()
            certificates._store_with_next_number(case, facilitator, result, utcnow())
            elapsed = time.perf_counter() - start
            nested.rollback()
            db.session.expire_all()  # reloaded as a fresh request would load them
            return elapsed

        def timed_bare(html: str) -> float:
            start = time.perf_counter()
            bare_render(html)
            return time.perf_counter() - start

        for _ in range(3):  # fonts, templates and the first queries load once per process
            timed_issue()
            timed_store()
        html = captured[-1]
        timed_bare(html)

        issue_s, store_s, bare_s = [], [], []
        for _ in range(args.runs):  # interleaved, so drift on the machine hits all three alike
            bare_s.append(timed_bare(html))
            issue_s.append(timed_issue())
            store_s.append(timed_store())

        cert = certificates.issue(case, facilitator)
        db.session.commit()
        cert_id, size = cert.id, len(cert.pdf)

    client = app.test_client()
    response = client.post(
        "/login", data={"email": "facilitator@demo.test", "password": "demo-password"}
    )
    assert response.status_code == 302, "sign-in failed"
    url = f"/facilitator/certificates/{cert_id}.pdf"
    first = client.get(url)
    assert first.status_code == 200 and first.data.startswith(b"%PDF")
    download_s = []
    for _ in range(args.downloads):
        start = time.perf_counter()
        response = client.get(url)
        download_s.append(time.perf_counter() - start)
        assert response.data == first.data  # the stored bytes, every time

    ms = lambda samples: statistics.median(samples) * 1000  # noqa: E731
    issue, store, bare, download = ms(issue_s), ms(store_s), ms(bare_s), ms(download_s)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (other work skews every figure)")
    print(f"certificate, {size / 1024:.0f} KB PDF/A-3a, {args.runs} generations each, medians:")
    print(f"  bare WeasyPrint render of the same HTML:                   {bare:8.2f} ms")
    print(f"  render + hash + store (completion checked beforehand):     {store:8.2f} ms")
    print(f"  certificates.issue() in full (incl. the completion check): {issue:8.2f} ms")
    print(f"re-download of the stored PDF, {args.downloads} GETs (audited, committed):")
    print(f"  GET {url}:{' ' * (40 - len(url))}{download:8.2f} ms")
    print("ratios:")
    print(f"  render + hash + store / bare render: {store / bare:5.2f}x  (target: within 1.3x)")
    print(f"  issue() in full       / bare render: {issue / bare:5.2f}x")
    print(f"  issue() in full       / re-download: {issue / download:5.1f}x  (target: >= 20x)")


if __name__ == "__main__":
    main()
