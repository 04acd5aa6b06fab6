"""What the browser tests share: signing in as a demo account, finding a reflection nobody has
touched yet, and auditing each visited page with axe-core.

All browser tests share one server and its demo data, so each test picks data no other test
uses (an untouched reflection prompt, a man whose mark no other test changes)."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pyotp
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from intervention.demo import DEMO_TOTP_SECRET

PASSWORD = "demo-password"
PARTICIPANT = "participant@demo.test"
FACILITATOR = "facilitator@demo.test"
CLERK = "clerk@demo.test"
ADMIN = "admin@demo.test"
DONE_CASE = "KC-26-104417"  # Robert Nguyen: completed, with a certificate (demo data)
BLOCKING_IMPACTS = ("serious", "critical")
# test_autosave.py writes in the first three prompts of his list: leave them to it.
PROMPTS_KEPT_FOR_AUTOSAVE = 3


def sign_in(page: Page, base: str, email: str) -> None:
    """The password, then for staff a code from the demo's authenticator app key."""
    page.goto(base + "/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_load_state()
    _refused_if_too_many(page)
    if urlsplit(page.url).path == "/login/code":
        type_code(page)
    expect(page.locator("form[action$='/logout'] button")).to_be_visible()


def type_code(page: Page) -> None:
    """The code step. A code signs an account in once (about 90 s); an account signed in
    again within that time takes the next code, which the server accepts too."""
    totp = pyotp.TOTP(DEMO_TOTP_SECRET)
    for step in (0, 1):
        page.fill("#code", totp.at(time.time(), counter_offset=step))
        page.locator("#code").press("Enter")
        page.wait_for_load_state()
        _refused_if_too_many(page)
        if not page.get_by_text("That code is not right").count():
            return


def _refused_if_too_many(page: Page) -> None:
    if page.get_by_text("Too many attempts").count():
        raise AssertionError(
            "the server refused to sign in: it allows 10 sign-ins per address in 15 minutes. "
            "Start tests signed in (the new_context fixture's user) unless they are about "
            "signing in."
        )


def untouched_prompt(page: Page, base: str) -> str:
    """URL of a reflection he has not started, from the end of his list of prompts to write,
    so that tests running in any order never write in the same one."""
    page.goto(base + "/me/reflections")
    links = page.locator("#due a[href^='/me/reflections/']")
    paths = links.evaluate_all("links => links.map(a => a.pathname)")
    for path in reversed(paths[PROMPTS_KEPT_FOR_AUTOSAVE:]):
        page.goto(base + path)
        editor, attempts = page.locator("#text"), page.locator("article.attempt")
        if editor.input_value() == "" and attempts.count() == 0:
            return base + path
    raise AssertionError(f"no untouched reflection prompt left among {paths}")


def answer_of(page: Page, words: str = "I chose to do it and I lied about it") -> str:
    """An answer long enough to submit on the reflection page that is open."""
    minimum = int(page.locator("#reflection-form").get_attribute("data-min-words"))
    text = words.split()
    return " ".join((text * (minimum // len(text) + 2))[: minimum + 5])


# The focused element and how it shows focus: its computed outline and box-shadow.
FOCUS_JS = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (el.textContent.trim() ? " (" + el.textContent.trim().slice(0, 30) + ")" : "");
  return {
    name,
    focusVisible: el.matches(":focus-visible"),
    ring: (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2)
      || style.boxShadow !== "none",
  };
}"""


def tab_to(page: Page, selector: str, limit: int = 80) -> list[str]:
    """Presses Tab until the element matching selector has the focus; returns the focused
    elements on the way that showed no focus ring, so a test can insist there are none."""
    unseen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS_JS)
        leaving = focus["name"].startswith("body")  # past the last element, to the browser
        if not leaving and not (focus["focusVisible"] and focus["ring"]):
            unseen.append(f"{focus['name']} on {page.url}: {focus}")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return unseen
    raise AssertionError(f"{selector} was not reached with {limit} presses of Tab")


class AxeAudit:
    """Runs axe-core on each page a test visits and keeps the serious and critical violations,
    so that one assertion at the end of the test lists every page's problems at once."""

    _axe = Axe()

    def __init__(self) -> None:
        self.findings: dict[str, list[dict]] = {}
        self.pages: list[str] = []

    def check(self, page: Page, label: str | None = None) -> None:
        page.wait_for_load_state("load")
        where = label or urlsplit(page.url).path
        results = self._axe.run(page)
        blocking = [
            v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS
        ]
        self.pages.append(where)
        if blocking:
            self.findings.setdefault(where, []).extend(blocking)

    def report(self) -> str:
        lines = []
        for where, violations in self.findings.items():
            lines.append(f"{where}:")
            for v in violations:
                count = len(v["nodes"])
                lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} ({count} element(s))")
                for node in v["nodes"][:5]:
                    target = " ".join(str(t) for t in node.get("target", []))
                    why = (node.get("failureSummary") or "").strip().splitlines()[-1:]
                    lines.append(f"      {target}: {' '.join(why).strip()}")
                    lines.append(f"        {node.get('html', '')[:160]}")
        return "\n".join(lines)

    def assert_clean(self) -> None:
        assert not self.findings, (
            f"axe-core: serious or critical violations on {len(self.findings)} of "
            f"{len(self.pages)} pages:\n{self.report()}"
        )
