"""Cross-site scripting: hostile text typed anywhere reaches every page only as text.

Each payload goes in through every field a person can fill (names, case numbers, answers,
review comments, court names, cohort locations, cancel reasons, curriculum Markdown); then
every page that shows that text is parsed, and no element, attribute or link may come from it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from intervention.curriculum.render import render_markdown, render_module
from intervention.extensions import db
from intervention.models import ReflectionAttempt, Role

from .conftest import login
from .helpers import answer, post_form, prompts_by_key, signed_in, text_of

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "<svg onload=alert(1)>",
    "javascript:alert(1)",
    "[click](javascript:alert(1))",
    "![x](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "'-alert(1)-'",
    '";alert(1);//',
    "{{7*7}}",
    "{% raw %}{{7*7}}{% endraw %}",
    "${7*7}",
    "<iframe src=javascript:alert(1)>",
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",  # fullwidth brackets
    "<scr\u200bipt>alert(1)</script>",  # zero-width space
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "%3Cscript%3Ealert(1)%3C/script%3E",
    "<img src=x onerror=&#97;&#108;&#101;&#114;&#116;(1)>",
    '<a href="&#106;avascript:alert(1)">x</a>',
    "\u202e<script>alert(1)</script>",  # right-to-left override
    "<style>*{display:none}</style><form action=//evil>",
    "<object data=javascript:alert(1)>",
]
DANGEROUS_TAGS = {"script", "iframe", "object", "embed", "svg", "math", "style", "base", "details"}


def _ours(tag: str, attrs: dict) -> bool:
    """The app's own chart (an <svg role="img"> or a decorative aria-hidden one) and the
    <details> holding its figures; a payload's copy would still carry its on*= handler."""
    if tag == "svg":
        return attrs.get("role") == "img" or attrs.get("aria-hidden") == "true"
    return tag == "details" and "chart-figures" in (attrs.get("class") or "").split()


class Injected(HTMLParser):
    """Collects what a payload could have created: dangerous tags, handlers, script links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag, attrs):
        if tag in DANGEROUS_TAGS - {"script", "style"} and not _ours(tag, dict(attrs)):
            self.found.append(f"<{tag}>")
        if tag == "script" and not dict(attrs).get("src"):
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag} {name}=")
            if name == "style":
                self.found.append(f"{tag} style=")
            if name in ("href", "src", "action", "data", "formaction") and value:
                if re.sub(r"[\s\x00-\x1f]", "", value).lower().startswith("javascript:"):
                    self.found.append(f"{tag} {name}={value}")
            if tag == "form" and name == "action" and value and value.startswith("//"):
                self.found.append(f"form action={value}")


def assert_inert(html: str, where: str) -> None:
    parser = Injected()
    parser.feed(html)
    assert not parser.found, f"{where}: {parser.found}"
    # Every payload follows a marker word; a template engine evaluating {{7*7}} would print 49.
    evaluated = re.search(r"\b(Name|Court|County|Room|CN|Comment|Reason|Heading) 49\b", html)
    assert not evaluated, f"{where}: template syntax was evaluated"


def pages_showing(enrollment, attempt, cohort, court, meeting) -> dict[str, list[str]]:
    """Every HTML page, by role, where the case's name, number, answer and comment appear."""
    return {
        "participant": [
            "/me/",
            "/me/schedule",
            "/me/reflections",
            f"/me/reflections/{attempt.reflection.prompt_id}",
        ],
        "facilitator": [
            "/facilitator/",
            f"/facilitator/cohorts/{cohort.id}",
            f"/facilitator/reviews?state=all&cohort={cohort.id}",
            f"/facilitator/reviews/{attempt.id}",
            f"/facilitator/enrollments/{enrollment.id}",
            f"/facilitator/sessions/{meeting.id}/attendance",
        ],
        "clerk": ["/court/", f"/court/cases/{enrollment.id}"],
        "admin": [
            "/admin/",
            "/admin/enrollments",
            "/admin/cohorts",
            f"/admin/cohorts/{cohort.id}",
            "/admin/courts",
            f"/admin/courts/{court.id}/edit",
            f"/cases/{enrollment.id}",
        ],
    }


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_payload_in_every_field_stays_text_on_every_page(
    app, payload, make_enrollment, make_user, make_court
):
    court = make_court(name=f"Court {payload}"[:200])
    enrollment = make_enrollment(court=court, case_number=f"CN {payload}"[:80])
    enrollment.participant.full_name = f"Name {payload}"
    cohort = enrollment.cohort
    cohort.location = f"Room {payload}"[:300]
    facilitator = cohort.facilitators[0]
    clerk = make_user(Role.CLERK, court=court)
    admin = make_user(Role.ADMIN)
    db.session.commit()

    # His answer, through the form he uses.
    prompt = prompts_by_key(enrollment)["what-happened"]
    participant = signed_in(app, enrollment.participant)
    url = f"/me/reflections/{prompt.id}"
    page = text_of(participant.get(url))
    revision = re.search(r'name="revision"[^>]*value="(\d+)"', page) or re.search(
        r'value="(\d+)"[^>]*name="revision"', page
    )
    text = f"{payload}\n\n{answer('Answer', 80)} {payload}"
    sent = post_form(participant, url, {"text": text, "revision": revision.group(1), "submit": "1"})
    assert sent.status_code == 302, text_of(sent)
    attempt = db.session.scalar(
        sa.select(ReflectionAttempt).order_by(ReflectionAttempt.id.desc()).limit(1)
    )

    # The facilitator's comment, through the review form.
    reviewer = signed_in(app, facilitator)
    review_url = f"/facilitator/reviews/{attempt.id}"
    reviewed = post_form(
        reviewer, review_url, {"outcome": "returned", "comment": f"Comment {payload}"}
    )
    assert reviewed.status_code == 302, text_of(reviewed)

    # A cancel reason, through the admin's form (the last session is still ahead or not held).
    staff = signed_in(app, admin)
    meeting = cohort.sessions[-1]
    cancelled = post_form(
        staff, f"/admin/sessions/{meeting.id}/cancel", {"reason": f"Reason {payload}"}
    )
    assert cancelled.status_code == 302, text_of(cancelled)

    clerk_client = signed_in(app, clerk)
    clients = {
        "participant": participant,
        "facilitator": reviewer,
        "clerk": clerk_client,
        "admin": staff,
    }
    shown = 0
    for role, urls in pages_showing(enrollment, attempt, cohort, court, meeting).items():
        for page_url in urls:
            response = clients[role].get(page_url)
            assert response.status_code == 200, (role, page_url, response.status_code)
            html = text_of(response)
            assert_inert(html, f"{role} {page_url}")
            shown += payload in html or html_escaped(payload) in html
    assert shown, "the payload should show (escaped) somewhere"


def html_escaped(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_court_name_typed_by_an_admin_stays_text(client, payload, make_user):
    admin = make_user(Role.ADMIN)
    db.session.commit()
    login(client, admin)
    response = post_form(
        client,
        "/admin/courts/new",
        {
            "name": f"Court {payload}"[:200],
            "jurisdiction": f"County {payload}"[:200],
            "timezone": "America/Los_Angeles",
            "notice_deadline_days": "14",
        },
    )
    assert response.status_code in (200, 302, 422)
    assert_inert(text_of(client.get("/admin/courts")), "/admin/courts")
    assert_inert(text_of(response), "/admin/courts/new")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_curriculum_markdown_and_answers_render_inert(payload):
    markdown = (
        f"## Heading {payload}\n\n{payload}\n\n| a | b |\n|:-:|--:|\n| {payload} | x |\n\n"
        f"> [!NOTE]\n> {payload}\n\n[link]({payload})\n\n![img]({payload})\n\n"
        f"```facilitator\n{payload}\n```\n"
    )
    rendered = render_module(markdown)
    assert_inert(rendered.body_html, "module body")
    assert_inert(rendered.notes_html, "facilitator notes")
    assert_inert(render_markdown(markdown), "answer")
    assert "Heading 49" not in rendered.body_html
