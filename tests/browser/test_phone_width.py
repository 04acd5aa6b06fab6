"""At 360 px wide (a small phone), no key page scrolls sideways as a whole; a wide table may
scroll inside its own .table-wrap (or the cohort grid inside .grid-wrap). Each page also goes
through axe-core at that size, which covers pages the journeys do not visit (admin)."""

from __future__ import annotations

from playwright.sync_api import Page

from .support import ADMIN, CLERK, DONE_CASE, FACILITATOR, PARTICIPANT, AxeAudit

WIDTH = 360
# Elements wider than the page that are not inside a container that scrolls on its own.
TOO_WIDE_JS = """width => {
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (box.right <= width + 1 || el.closest(".table-wrap, .grid-wrap, pre")) continue;
    const cls = typeof el.className === "string" && el.className.trim()
      ? "." + el.className.trim().split(/\\s+/).join(".") : "";
    out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + cls
      + " right=" + Math.round(box.right));
  }
  return out.slice(0, 8);
}"""


def wider_than_the_screen(page: Page, base: str, audit: AxeAudit, *paths: str) -> list[str]:
    """Opens each path, audits it with axe, and describes those whose page scrolls sideways."""
    problems = []
    for path in paths:
        page.goto(base + path)
        audit.check(page, f"{path} (360 px)")
        scroll = page.evaluate("document.documentElement.scrollWidth")
        if scroll > WIDTH:
            wide = page.evaluate(TOO_WIDE_JS, WIDTH)
            problems.append(f"{path}: scrollWidth {scroll}; too wide: {wide}")
    return problems


def first_link(page: Page, base: str, path: str, selector: str) -> str:
    page.goto(base + path)
    return page.locator(selector).first.evaluate("a => a.pathname + a.search")


def test_key_pages_fit_a_360_px_screen(live_server, new_context):
    screen = {"width": WIDTH, "height": 740}
    base, audit = live_server, AxeAudit()
    page = new_context(viewport=screen).new_page()
    problems = wider_than_the_screen(page, base, audit, "/login", "/verify")

    page = new_context(PARTICIPANT, screen).new_page()
    reflection = first_link(page, base, "/me/reflections", "#due a[href^='/me/reflections/']")
    problems += wider_than_the_screen(
        page, base, audit, "/me/", "/me/modules/1", "/me/reflections", reflection
    )

    page = new_context(FACILITATOR, screen).new_page()
    cohort = first_link(page, base, "/facilitator/", "main a[href^='/facilitator/cohorts/']")
    attendance = first_link(page, base, cohort, "main a[href$='/attendance']")
    accepted = "/facilitator/reviews?state=accepted"
    review = first_link(page, base, accepted, "main a[href^='/facilitator/reviews/']")
    problems += wider_than_the_screen(
        page, base, audit, "/facilitator/", cohort, attendance, "/facilitator/reviews", review
    )

    page = new_context(CLERK, screen).new_page()
    case = first_link(page, base, f"/court/?q={DONE_CASE}", "main table a[href^='/court/cases/']")
    problems += wider_than_the_screen(page, base, audit, "/court/", case)
    code = page.locator("main li code").first.inner_text().strip()

    page = new_context(ADMIN, screen).new_page()
    problems += wider_than_the_screen(
        page, base, audit, "/admin/", "/admin/provider", "/admin/enrollments/new"
    )
    page = new_context(viewport=screen).new_page()
    problems += wider_than_the_screen(page, base, audit, f"/verify/{code}")
    assert not problems, "pages wider than 360 px:\n" + "\n".join(problems)
    audit.assert_clean()
