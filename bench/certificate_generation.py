"""Benchmark: issuing a certificate through services.certificates against a bare WeasyPrint render
of the same HTML; re-downloading the stored certificate against generating it; and the clerk's
bulk download of 500 certificates as one zip. Prints the figures measured in one run on this
machine, and their ratios; no pass or fail.

Targets (issues 6 and 8): generation within 1.3x of the bare render; re-download at least 20x
faster than generation; the zip of 500 certificates grows the process by at most 50 MB.

    .venv/bin/python bench/certificate_generation.py [--runs 10] [--downloads 40]
        [--zip-certificates 500]
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import statistics
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import RssSampler, machine, memory_kb  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="generations of each kind (>= 5)")
    parser.add_argument("--downloads", type=int, default=40, help="re-downloads (>= 20)")
    parser.add_argument("--zip-certificates", type=int, default=500)
    args = parser.parse_args()
    if args.runs < 5 or args.downloads < 20:
        parser.error("the medians need at least 5 generations and 20 re-downloads")

    instance = tempfile.mkdtemp(prefix="bench-")
    os.environ["INTERVENTION_INSTANCE"] = instance
    os.environ.pop("INTERVENTION_DATABASE_URL", None)

    import pyotp
    import weasyprint
    from flask_migrate import upgrade
    from sqlalchemy import select

    from intervention import create_app, pdf
    from intervention.demo import DEMO_TOTP_SECRET, seed
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

    client = app.test_client()
    response = client.post(
        "/login", data={"email": "facilitator@demo.test", "password": "demo-password"}
    )
    assert response.status_code == 302, "sign-in failed"
    response = client.post("/login/code", data={"code": pyotp.TOTP(DEMO_TOTP_SECRET).now()})
    assert response.status_code == 302, "sign-in code refused"

    with app.app_context():
        facilitator = db.session.scalar(select(User).where(User.email == "facilitator@demo.test"))
        # The demo's second summer case: complete, certificate not issued yet.
        case = db.session.scalar(select(Enrollment).where(Enrollment.case_number == "SMC-26-55812"))
        assert case.state is EnrollmentState.ACTIVE and case.valid_certificate is None
        # The demo's first summer case has its certificate already: the one re-downloaded.
        done = db.session.scalar(select(Enrollment).where(Enrollment.case_number == "KC-26-104417"))
        stored = done.valid_certificate
        url, size = f"/cases/certificates/{stored.id}.pdf", len(stored.pdf)

        def timed_issue() -> float:
            """issue() in full: guards, completion check, number, render, hash, store, audit.
            Rolled back afterwards, so every run issues the same certificate anew."""
            nested = db.session.begin_nested()
            start = time.perf_counter()
            certificates.issue(case, facilitator)
            elapsed = time.perf_counter() - start
            nested.rollback()
            # Ends the transaction, so the downloads in between can write their audit events,
            # and reloads everything as a fresh request would.
            db.session.rollback()
            return elapsed

        def timed_store() -> float:
            """Render + hash + store only: the completion check is done before the clock."""
            result = completion.evaluate(case)
            nested = db.session.begin_nested()
            start = time.perf_counter()
            certificates._store_with_next_number(case, facilitator, result, utcnow())
            elapsed = time.perf_counter() - start
            nested.rollback()
            db.session.rollback()
            return elapsed

        def timed_bare(html: str) -> float:
            start = time.perf_counter()
            bare_render(html)
            return time.perf_counter() - start

        def timed_download() -> float:
            """A re-download through the route: stored bytes, the download audited and committed."""
            start = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - start
            assert response.status_code == 200 and len(response.data) == size
            return elapsed

        for _ in range(3):  # fonts, templates and the first queries load once per process
            timed_issue()
            timed_store()
            timed_download()
        html = captured[-1]
        timed_bare(html)

        # Interleaved, so drift on the machine hits all four alike.
        issue_s, store_s, bare_s, download_s = [], [], [], []
        per_round = math.ceil(args.downloads / args.runs)
        for _ in range(args.runs):
            bare_s.append(timed_bare(html))
            issue_s.append(timed_issue())
            store_s.append(timed_store())
            download_s.extend(timed_download() for _ in range(per_round))

    ms = lambda samples: statistics.median(samples) * 1000  # noqa: E731
    issue, store, bare, download = ms(issue_s), ms(store_s), ms(bare_s), ms(download_s)
    print(f"machine: {machine()} (other work skews every figure)")
    print(f"certificate, {size / 1024:.0f} KB PDF/A-3a, {args.runs} generations each, medians:")
    print(f"  bare WeasyPrint render of the same HTML:                   {bare:8.2f} ms")
    print(f"  render + hash + store (completion checked beforehand):     {store:8.2f} ms")
    print(f"  certificates.issue() in full (incl. the completion check): {issue:8.2f} ms")
    print(f"re-download of the stored PDF, {len(download_s)} GETs between the generations:")
    print(f"  GET {url}:{' ' * (40 - len(url))}{download:8.2f} ms")
    print("ratios:")
    print(f"  render + hash + store / bare render: {store / bare:5.2f}x  (target: within 1.3x)")
    print(f"  issue() in full       / bare render: {issue / bare:5.2f}x")
    print(f"  issue() in full       / re-download: {issue / download:5.1f}x  (target: >= 20x)")
    sys.stdout.flush()

    bulk_zip(app, args.zip_certificates)


def bulk_zip(app, count: int) -> None:
    """Issues `count` real certificates in one court (re-issues of the demo's certificate: each a
    new number, code and PDF rendered by WeasyPrint), then has a fresh process download them."""
    from sqlalchemy import select

    from intervention.extensions import db
    from intervention.models import Enrollment, User, utcnow
    from intervention.services import certificates

    print(f"bulk download: issuing {count} certificates (about a quarter second each)...")
    sys.stdout.flush()
    with app.app_context():
        facilitator = db.session.scalar(select(User).where(User.email == "facilitator@demo.test"))
        case = db.session.scalar(select(Enrollment).where(Enrollment.case_number == "KC-26-104417"))
        for n in range(count - len(case.certificates)):
            certificates.reissue(case.valid_certificate, facilitator, f"benchmark re-issue {n}")
            db.session.commit()
        today = utcnow().date()
    path = f"/court/export.zip?from={today - timedelta(days=1)}&to={today + timedelta(days=1)}"
    # A new interpreter, like a fresh worker: this one has grown by rendering 500 PDFs, and
    # memory it has freed would hide what the download takes.
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        figures = pool.submit(download_zip, path).result()
    pdfs, pdf_bytes, zip_bytes, seconds = (
        figures[k] for k in ("certificates", "pdf_bytes", "zip_bytes", "seconds")
    )
    before, peak, after = (figures[k] / 1024 for k in ("rss_before", "rss_peak", "rss_after"))
    print(f"bulk download of {pdfs} certificates by a fresh process, GET {path}:")
    print(f"  {zip_bytes / 1e6:.1f} MB zip ({pdf_bytes / 1e6:.1f} MB of PDFs) in {seconds:.2f} s")
    print(f"  {pdfs / seconds:.0f} certificates/s, {zip_bytes / 1e6 / seconds:.1f} MB/s of zip")
    print(
        f"  process RSS: {before:.0f} MB before, {peak:.0f} MB peak "
        f"(+{peak - before:.1f} MB; target: at most +50 MB), {after:.0f} MB after"
    )


def download_zip(path: str) -> dict:
    """In the spawned process: the app on the same database (INTERVENTION_INSTANCE is in the
    environment), the clerk signed in, the zip streamed through the route into a file while
    this process's resident memory is sampled every 10 ms."""
    import pyotp

    from intervention import create_app
    from intervention.demo import DEMO_TOTP_SECRET

    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "DEMO_MODE": False})
    client = app.test_client()
    response = client.post("/login", data={"email": "clerk@demo.test", "password": "demo-password"})
    assert response.status_code == 302, "clerk sign-in failed"
    response = client.post("/login/code", data={"code": pyotp.TOTP(DEMO_TOTP_SECRET).now()})
    assert response.status_code == 302, "clerk sign-in code refused"
    assert client.get("/court/").status_code == 200  # a worker has served pages before
    target = Path(tempfile.mkdtemp(prefix="bench-zip-")) / "export.zip"
    gc.collect()
    before = memory_kb()["VmRSS"]
    with RssSampler(lambda: [os.getpid()], interval=0.01) as sampler:
        start = time.perf_counter()
        response = client.get(path, buffered=False)
        assert response.status_code == 200, response.status_code
        with target.open("wb") as out:
            for chunk in response.response:  # streamed: the zip is never whole in memory here
                out.write(chunk)
        response.close()
        seconds = time.perf_counter() - start
    with zipfile.ZipFile(target) as archive:
        pdfs = [e for e in archive.infolist() if e.filename.startswith("certificates/")]
    return {
        "certificates": len(pdfs),
        "pdf_bytes": sum(e.file_size for e in pdfs),
        "zip_bytes": target.stat().st_size,
        "seconds": seconds,
        "rss_before": before,
        "rss_peak": max(sampler.peak.values()),
        "rss_after": sampler.last[os.getpid()],
    }


if __name__ == "__main__":
    main()
