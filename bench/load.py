"""Benchmark: the pages that matter, served by gunicorn with the production settings of
gunicorn.conf.py on loopback and driven by wrk, each reported as a ratio to a bare Flask route
served with the same settings in the same run; then the memory of the workers, and of the one
serving the clerk's bulk download of certificates. Prints the figures; no pass or fail.

Needs a migrated database holding a scale data set and its manifest
(`flask --app intervention seed-demo --scale N --manifest PATH`), and wrk (`make bench-deps`):

    .venv/bin/python bench/load.py --database-url URL --manifest PATH \\
        [--duration 10] [--connections 8] [--threads 2] [--port 8765] [--out results.json]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pyotp  # noqa: E402
from sqlalchemy import create_engine, func, select  # noqa: E402

from bench._common import RssSampler, children, machine, memory_kb  # noqa: E402
from intervention.clerk.forms import MAX_EXPORT_DAYS  # noqa: E402
from intervention.models import Certificate, Enrollment  # noqa: E402

WRK_DIR = ROOT / "bench" / "wrk"
# Sign-in allows 10 attempts per address in 15 minutes; a run signs in at most this many
# people, so it stays under the limit even when the count outlives the server (Redis).
SIGN_IN_BUDGET = 6
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
REVISION = re.compile(r'name="revision"[^>]*value="(\d+)"')


# --- servers ---------------------------------------------------------------------------------


@dataclass
class Server:
    """One gunicorn, started with gunicorn.conf.py; its log goes to a file, shown on failure."""

    name: str
    target: str  # the WSGI app, as gunicorn takes it
    port: int
    env: dict
    log: Path
    process: subprocess.Popen | None = None

    def start(self, ready_path: str) -> None:
        env = {**self.env, "GUNICORN_BIND": f"127.0.0.1:{self.port}"}
        command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", self.target]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.fail(f"gunicorn exited with status {self.process.returncode}")
            with contextlib.suppress(OSError):
                if send(self.port, "GET", ready_path).status == 200:
                    return
            time.sleep(0.2)
        self.fail("gunicorn did not answer within 60 seconds")

    def workers(self) -> list[int]:
        return children(self.process.pid) if self.process else []

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def fail(self, message: str) -> None:
        tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
        self.stop()
        sys.exit(f"{self.name}: {message}. End of {self.log}:\n{tail}")


@contextlib.contextmanager
def running(*servers: Server, ready_paths: tuple[str, ...]) -> Iterator[None]:
    try:
        for server, path in zip(servers, ready_paths, strict=True):
            server.start(path)
        yield
    finally:
        for server in servers:
            server.stop()


def server_env(args, public_url: str) -> dict:
    """Production, as deployed, except the verification limit: high enough never to refuse
    the benchmark, while the limiter still runs on every request."""
    return {
        **os.environ,
        "INTERVENTION_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "INTERVENTION_DATABASE_URL": args.database_url,
        "INTERVENTION_PUBLIC_URL": public_url,
        "INTERVENTION_VERIFY_RATE_LIMIT": "1000000 per minute",
    }


# --- visitors --------------------------------------------------------------------------------


@dataclass
class Reply:
    """A response, read to its end (or into a file)."""

    status: int
    cookies: list[str]  # its Set-Cookie headers
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


def send(
    port: int,
    method: str,
    path: str,
    headers: dict | None = None,
    form: dict | str | None = None,
    into: Path | None = None,
) -> Reply:
    """One request on its own connection; redirects are answers, not followed."""
    headers = dict(headers or {})
    body = urlencode(form) if isinstance(form, dict) else form
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        if into is None:
            data = response.read()
        else:
            with into.open("wb") as out:
                shutil.copyfileobj(response, out, 64 * 1024)
            data = b""
        return Reply(response.status, response.headers.get_all("Set-Cookie") or [], data)
    finally:
        connection.close()


def fail(what: str, reply: Reply) -> None:
    sys.exit(f"{what}: status {reply.status}\n{reply.text[:1500]}")


class Visitor:
    """Someone using the site, with cookies kept by hand: in production they are Secure, which
    a browser would not send over plain http. wrk sends them as given. Neither sends a
    User-Agent, so the session (bound to address and agent: session_protection "strong")
    holds under wrk too."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def request(self, method: str, path: str, **kwargs) -> Reply:
        headers = {"Cookie": self.cookie_header} if self.cookies else {}
        reply = send(self.port, method, path, headers, **kwargs)
        for header in reply.cookies:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return reply

    def page(self, path: str) -> Reply:
        reply = self.request("GET", path)
        if reply.status != 200:
            fail(f"GET {path}", reply)
        return reply

    def csrf(self, path: str) -> str:
        """The CSRF token of the form on `path` (it is tied to this visitor's session)."""
        match = CSRF.search(self.page(path).text)
        if not match:
            sys.exit(f"no CSRF token on {path}")
        return match.group(1)

    def sign_in(self, email: str, password: str, totp_secret: str | None = None) -> None:
        """The password; for staff (given their app key) the code step after it."""
        token = self.csrf("/login")
        reply = self.request(
            "POST", "/login", form={"email": email, "password": password, "csrf_token": token}
        )
        if reply.status != 302:
            fail(f"sign-in as {email}", reply)
        if totp_secret:
            token = self.csrf("/login/code")
            code = pyotp.TOTP(totp_secret).now()
            reply = self.request("POST", "/login/code", form={"code": code, "csrf_token": token})
            if reply.status != 302:
                fail(f"sign-in code for {email}", reply)


# --- pages -----------------------------------------------------------------------------------


@dataclass
class Page:
    name: str
    path: str
    cookie: str = ""
    method: str = "GET"
    body: str | None = None
    drafts: list[str] = field(default_factory=list)  # the reflection save: one line per thread

    def env(self, workdir: Path) -> dict:
        env = {**os.environ, "BENCH_METHOD": self.method, "BENCH_COOKIE": self.cookie}
        if self.body is not None:
            env["BENCH_BODY"] = self.body
        if self.drafts:
            drafts = workdir / "drafts.tsv"
            drafts.write_text("".join(line + "\n" for line in self.drafts))
            env["BENCH_DRAFTS"] = str(drafts)
        return env

    def check(self, port: int) -> None:
        """One request before the run: a page that fails would only measure its error. (The
        reflection save was checked when each participant's revision was read.)"""
        if self.drafts:
            return
        headers = {"Cookie": self.cookie} if self.cookie else {}
        reply = send(port, self.method, self.path, headers, form=self.body)
        if reply.status != 200:
            fail(f"{self.name}: {self.method} {self.path}", reply)


def participant_drafts(port: int, manifest: dict, count: int, password: str) -> list[str]:
    """Signs in `count` participants and opens each one's reflection, which gives his CSRF token
    and the draft's current revision; one save checks the route and moves the revision on."""
    lines = []
    for participant in manifest["participants"][:count]:
        visitor = Visitor(port)
        visitor.sign_in(participant["email"], password)
        page = visitor.page(f"/me/reflections/{participant['prompt_id']}").text
        token, revision = CSRF.search(page), REVISION.search(page)
        if not (token and revision):
            sys.exit(f"no draft form for {participant['email']} on his reflection page")
        path = f"/me/reflections/{participant['prompt_id']}/draft"
        reply = visitor.request(
            "POST",
            path,
            form={
                "csrf_token": token.group(1),
                "revision": revision.group(1),
                "text": "Checked by the load benchmark.",
            },
        )
        if reply.status != 200:
            fail(f"draft save of {participant['email']}", reply)
        fields = [
            path,
            visitor.cookie_header,
            token.group(1),
            str(json.loads(reply.body)["revision"]),
        ]
        lines.append("\t".join(fields))
    return lines


def current_drafts(port: int, drafts: list[str]) -> list[str]:
    """The autosave lines with each draft's revision read again from his reflection page
    (with his cookie; no new sign-in): a later run of the same lines would otherwise carry
    the revision the previous run left behind, and every save would be refused as stale."""
    lines = []
    for line in drafts:
        path, cookie, token, _revision = line.split("\t")
        page = send(port, "GET", path.removesuffix("/draft"), {"Cookie": cookie})
        revision = REVISION.search(page.body.decode())
        if page.status != 200 or revision is None:
            fail(f"reflection page {path.removesuffix('/draft')}", page)
        lines.append("\t".join([path, cookie, token, revision.group(1)]))
    return lines


def app_pages(port: int, manifest: dict, connections: int) -> tuple[list[Page], int, Visitor]:
    """Signs in and finds every page to measure. Returns the pages, the number of participants
    saving drafts (as many as the other pages' connections, within the sign-in budget), and the
    clerk (for the bulk download afterwards)."""
    password = manifest["password"]
    savers = min(connections, len(manifest["participants"]), SIGN_IN_BUDGET - 2)
    drafts = participant_drafts(port, manifest, savers, password)
    first = manifest["participants"][0]
    participant_cookie = drafts[0].split("\t")[1]

    facilitator = Visitor(port)
    facilitator.sign_in(manifest["facilitator"]["email"], password, manifest["totp_secret"])
    clerk = Visitor(port)
    clerk.sign_in(manifest["clerk"]["email"], password, manifest["totp_secret"])
    public = Visitor(port)
    verify_token = public.csrf("/verify")
    code = manifest["certificate"]["code"]

    pages = [
        Page("participant dashboard", "/me/", participant_cookie),
        Page("module page", f"/me/modules/{first['module_number']}", participant_cookie),
        Page(
            "reflection save",
            f"/me/reflections/{first['prompt_id']}/draft",
            method="POST",
            drafts=drafts,
        ),
        Page("review queue", "/facilitator/reviews", facilitator.cookie_header),
        Page(
            "cohort grid",
            f"/facilitator/cohorts/{manifest['facilitator']['cohort_id']}",
            facilitator.cookie_header,
        ),
        Page(
            "clerk search",
            "/court/?" + urlencode({"q": manifest["clerk"]["search_query"]}),
            clerk.cookie_header,
        ),
        Page(
            "clerk case page",
            f"/court/cases/{manifest['clerk']['case_enrollment_id']}",
            clerk.cookie_header,
        ),
        Page(
            "verify (form)",
            "/verify",
            public.cookie_header,
            method="POST",
            body=urlencode({"csrf_token": verify_token, "code": code}),
        ),
        Page("verify (QR link)", f"/verify/{code}"),
    ]
    return pages, savers, clerk


# --- wrk -------------------------------------------------------------------------------------


def run_wrk(page: Page, port: int, args, workdir: Path) -> dict:
    """One wrk run. The reflection save runs one connection per thread (one participant each,
    keeping his revision); the other pages run --threads and --connections."""
    if page.drafts:
        threads = connections = len(page.drafts)
        script = WRK_DIR / "draft.lua"
    else:
        threads, connections = args.threads, args.connections
        script = WRK_DIR / "report.lua"
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{args.duration}s",
        "--latency",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}{page.path}",
    ]
    result = subprocess.run(
        command, env=page.env(workdir), capture_output=True, text=True, check=False
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if result.returncode != 0 or line is None:
        sys.exit(f"wrk failed for {page.name}:\n{result.stdout}\n{result.stderr}")
    figures = json.loads(line.removeprefix("BENCH_JSON "))
    return {"page": page.name, "path": page.path, "connections": connections, **figures}


def measure(pages: list[Page], port: int, args, workdir: Path) -> list[dict]:
    rows = []
    for page in pages:
        page.check(port)
        rows.append(run_wrk(page, port, args, workdir))
        print(f"  {page.name}: {rows[-1]['rps']:.0f} req/s", flush=True)
    return rows


# --- memory ----------------------------------------------------------------------------------


def worker_memory(server: Server, sampler: RssSampler) -> dict:
    """Each live worker's resident memory now and at its highest; and the highest over every
    worker seen during the runs (gunicorn replaces one after max_requests, taking its figure
    with it, so those count by what was sampled)."""
    live = {pid: kb for pid in server.workers() if (kb := memory_kb(pid))}
    highest = max([*sampler.peak.values(), *(kb["VmHWM"] for kb in live.values())], default=0)
    return {
        "workers": [
            {"pid": pid, "rss_mb": kb["VmRSS"] / 1024, "hwm_mb": kb["VmHWM"] / 1024}
            for pid, kb in live.items()
        ],
        "workers_seen": len(sampler.peak.keys() | live.keys()),
        "peak_mb": highest / 1024,
    }


def export_window(database_url: str, court_id: int) -> tuple[str, str, int]:
    """The longest date range the export allows, ending on the day of the court's latest
    certificate; and how many certificates the court has in all."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        latest, total = connection.execute(
            select(func.max(Certificate.issued_at), func.count(Certificate.id))
            .join(Enrollment, Certificate.enrollment_id == Enrollment.id)
            .where(Enrollment.court_id == court_id)
        ).one()
    engine.dispose()
    if latest is None:
        sys.exit(f"court {court_id} has no certificates to download")
    last = latest.date() + timedelta(days=1)  # a court east of UTC may be a day ahead
    first = last - timedelta(days=MAX_EXPORT_DAYS - 1)
    return first.isoformat(), last.isoformat(), total


def measure_zip(server: Server, clerk: Visitor, args, manifest: dict, workdir: Path) -> dict:
    """The clerk's bulk download of his court's documents, while every worker's memory is
    sampled each 50 ms; the worker that grew most is the one that served it."""
    first, last, in_court = export_window(args.database_url, manifest["clerk"]["court_id"])
    path = "/court/export.zip?" + urlencode({"from": first, "to": last})
    target = workdir / "export.zip"
    with RssSampler(server.workers, interval=0.05) as sampler:
        start = time.perf_counter()
        reply = clerk.request("GET", path, into=target)
        seconds = time.perf_counter() - start
    if reply.status != 200:
        fail("bulk download", Reply(reply.status, [], target.read_bytes()))
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
    pid = max(sampler.peak, key=lambda p: sampler.peak[p] - sampler.first[p])
    return {
        "path": path,
        "certificates": sum(name.startswith("certificates/") for name in names),
        "documents": sum(name.startswith("documents/") for name in names),
        "court_certificates": in_court,
        "bytes": target.stat().st_size,
        "seconds": seconds,
        "worker_pid": pid,
        "rss_before_mb": sampler.first[pid] / 1024,
        "rss_peak_mb": sampler.peak[pid] / 1024,
        "rss_after_mb": sampler.last[pid] / 1024,
    }


# --- report ----------------------------------------------------------------------------------


def ratios(rows: list[dict], bare_rps: float) -> None:
    for row in rows:
        row["slower"] = bare_rps / row["rps"] if row["rps"] else None
        row["percent_of_bare"] = 100 * row["rps"] / bare_rps


def print_table(result: dict) -> None:
    print(f"\nmachine: {result['machine']}")
    print(f"gunicorn: {result['gunicorn']}; wrk {result['wrk']}")
    print(f"data: {result['data']}")
    header = f"{'page':<24}{'conns':>6}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
    print(f"\n{header}{'vs bare':>10}{'% of bare':>11}{'errors':>8}")
    for row in result["pages"]:
        errors = row["non2xx"] + row["socket_errors"]
        slower = f"{row['slower']:.1f}x" if row["slower"] is not None else "-"
        print(
            f"{row['page']:<24}{row['connections']:>6}{row['rps']:>9.0f}"
            f"{row['p50_us'] / 1000:>9.1f}{row['p95_us'] / 1000:>9.1f}{row['p99_us'] / 1000:>9.1f}"
            f"{slower:>10}{row['percent_of_bare']:>10.0f}%{errors:>8}"
        )
    for name in ("app", "bare"):
        memory = result["memory"][name]
        workers = ", ".join(
            f"{w['rss_mb']:.0f} MB (peak {w['hwm_mb']:.0f})" for w in memory["workers"]
        )
        print(
            f"{name} workers now: {workers}; highest {memory['peak_mb']:.0f} MB "
            f"over the {memory['workers_seen']} worker processes of the run"
        )
    z = result["zip"]
    print(
        f"bulk download {z['path']}: {z['certificates']} certificates + {z['documents']} "
        f"documents (court has {z['court_certificates']} certificates), "
        f"{z['bytes'] / 1e6:.1f} MB in {z['seconds']:.1f} s; serving worker RSS "
        f"{z['rss_before_mb']:.0f} MB before, {z['rss_peak_mb']:.0f} MB peak "
        f"(+{z['rss_peak_mb'] - z['rss_before_mb']:.0f}), {z['rss_after_mb']:.0f} MB after"
    )


def wrk_version() -> str:
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).split()[1]


def gunicorn_settings(env: dict) -> str:
    workers = env.get("WEB_CONCURRENCY", f"{os.cpu_count() + 1} (CPUs + 1)")
    return (
        f"gunicorn.conf.py, {workers} workers x {env.get('GUNICORN_THREADS', '4')} threads "
        f"(gthread), max_requests {env.get('GUNICORN_MAX_REQUESTS', '5000')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--manifest", required=True, type=Path)
    parser.add_argument("--duration", type=int, default=10, help="seconds per page")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--port", type=int, default=8765, help="the app; the bare route: +1")
    parser.add_argument("--out", type=Path, help="write the results as JSON here too")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: make bench-deps")
    manifest = json.loads(args.manifest.read_text())

    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    env = server_env(args, f"http://127.0.0.1:{args.port}")
    app = Server("app", "wsgi:app", args.port, env, workdir / "app.log")
    bare = Server("bare", "bench.bare_app:app", args.port + 1, env, workdir / "bare.log")
    print(f"gunicorn logs and wrk files in {workdir}", flush=True)

    with running(app, bare, ready_paths=("/healthz", "/")):
        pages, savers, clerk = app_pages(args.port, manifest, args.connections)
        bare_page = Page("bare Flask route", "/")
        with (
            RssSampler(app.workers, interval=0.1) as app_sampler,
            RssSampler(bare.workers, interval=0.1) as bare_sampler,
        ):
            before = measure([bare_page], bare.port, args, workdir)[0]
            rows = measure(pages, args.port, args, workdir)
            after = measure([bare_page], bare.port, args, workdir)[0]
        memory = {
            "app": worker_memory(app, app_sampler),
            "bare": worker_memory(bare, bare_sampler),
        }
        zip_result = measure_zip(app, clerk, args, manifest, workdir)

    before["page"], after["page"] = "bare route (before)", "bare route (after)"
    bare_rps = (before["rps"] + after["rps"]) / 2  # the machine may drift during the run
    all_rows = [before, *rows, after]
    ratios(all_rows, bare_rps)
    result = {
        "machine": machine(),
        "gunicorn": gunicorn_settings(env),
        "wrk": f"{wrk_version()}, {args.threads} threads, {args.connections} connections, "
        f"{args.duration} s per page; reflection save: {savers} participants, one "
        "connection each",
        "data": manifest.get("counts", {}) | {"scale": manifest.get("scale")},
        "database": args.database_url.split("://", 1)[0],
        "bare_rps": bare_rps,
        "pages": all_rows,
        "memory": memory,
        "zip": zip_result,
        "command": " ".join(sys.argv),
    }
    print_table(result)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
