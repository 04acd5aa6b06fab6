"""Screenshots of the key pages, on a phone and on a desktop, in English and Spanish, for the
README: the demo data served by `flask run` on a throwaway SQLite database, photographed by
Debian's chromium through Playwright.

    .venv/bin/python docs/screenshots/capture.py      # writes docs/screenshots/*.png
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pyotp
from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from intervention.demo import DEMO_TOTP_SECRET  # noqa: E402

PASSWORD = "demo-password"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

# (file name, who signs in, path or a function of the page finding it, viewport, language)
SHOTS = [
    ("participant-home-phone", "participant@demo.test", "/me/", PHONE, "en"),
    ("participant-module-phone", "participant@demo.test", "/me/modules/1", PHONE, "en"),
    ("participant-reflection-desktop", "participant@demo.test", "first-reflection", DESKTOP, "en"),
    ("participant-home-spanish-phone", "participante@demo.test", "/me/", PHONE, "es"),
    ("facilitator-cohort-grid-desktop", "facilitator@demo.test", "first-cohort", DESKTOP, "en"),
    ("facilitator-cohort-grid-phone", "facilitator@demo.test", "first-cohort", PHONE, "en"),
    ("facilitator-reviews-desktop", "facilitator@demo.test", "/facilitator/reviews", DESKTOP, "en"),
    ("clerk-cases-desktop", "clerk@demo.test", "/court/", DESKTOP, "en"),
    ("clerk-case-phone", "clerk@demo.test", "first-case", PHONE, "en"),
    ("admin-overview-desktop", "admin@demo.test", "/admin/", DESKTOP, "en"),
    ("admin-overview-spanish-phone", "admin@demo.test", "/admin/", PHONE, "es"),
    ("verify-phone", None, "/verify", PHONE, "en"),
]

# Pages reached by following the first link of a kind on the signed-in home page.
FIRST_LINK = {
    "first-reflection": ("/me/reflections", r'href="(/me/reflections/\d+)"'),
    "first-cohort": ("/facilitator/", r'href="(/facilitator/cohorts/\d+)"'),
    "first-case": ("/court/", r'href="(/court/cases/\d+)"'),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(instance: Path, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "INTERVENTION_ENV": "development",
        "INTERVENTION_INSTANCE": str(instance),
        "INTERVENTION_DATABASE_URL": f"sqlite:///{instance / 'demo.sqlite3'}",
        "INTERVENTION_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    flask = [sys.executable, "-m", "flask", "--app", "intervention"]
    for step in (["db", "upgrade"], ["curriculum", "sync"], ["seed-demo"]):
        subprocess.run([*flask, *step], cwd=ROOT, env=env, check=True, capture_output=True)
    run = [*flask, "run", "--port", str(port), "--no-reload"]
    server = subprocess.Popen(run, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    sys.exit("the demo server did not start")


def path_of(page, base: str, target: str) -> str:
    if target not in FIRST_LINK:
        return target
    listing, pattern = FIRST_LINK[target]
    page.goto(base + listing)
    found = re.search(pattern, page.content())
    if not found:
        sys.exit(f"no link matching {pattern} on {listing}")
    return found.group(1)


def main() -> None:
    instance = Path(tempfile.mkdtemp(prefix="intervention-shots-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(instance, port)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            signed_in: dict[str, dict] = {}  # one sign-in per person: 10 per address are allowed
            for name, email, target, viewport, language in SHOTS:
                context = browser.new_context(
                    viewport=viewport, locale=language, storage_state=signed_in.get(email)
                )
                context.add_cookies([{"name": "lang", "value": language, "url": base}])
                page = context.new_page()
                if email and email not in signed_in:
                    page.goto(base + "/login")
                    page.fill("#email", email)
                    page.fill("#password", PASSWORD)
                    page.click("button[type=submit]")
                    page.wait_for_load_state()
                    if page.url == base + "/login/code":  # staff: the code from the demo key
                        page.fill("#code", pyotp.TOTP(DEMO_TOTP_SECRET).now())
                        page.press("#code", "Enter")
                        page.wait_for_load_state()
                    signed_in[email] = context.storage_state()
                page.goto(base + path_of(page, base, target))
                if email and page.url.startswith(base + "/login"):
                    sys.exit(f"{name}: {email} is not signed in")
                page.screenshot(path=str(HERE / f"{name}.png"), full_page=viewport is PHONE)
                print(f"{name}.png", flush=True)
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
