"""One case from the participant's first sign-in to a certificate the public can verify,
driven only through the web pages, as the participant, facilitator, clerk and public use them."""

from __future__ import annotations

import hashlib
import io
import re

import sqlalchemy as sa
from pypdf import PdfReader

from intervention.extensions import db
from intervention.models import AuditEvent, Certificate, Role

from .helpers import answer, links, post_form, signed_in, text_of

CASE = "KC-26-777001"
PROGRAM_TITLE = "Accountability and Change: A Program for Men"
MODULE_TITLES = {1: "Why You Are Here", 2: "The Women Behind the Transaction", 3: "Why Men Buy"}
RETURN_COMMENT = "You describe the day, but not your choices. Say what you decided, and when."
CODE_RE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")


def revision_of(html: str) -> str:
    match = re.search(r'<input[^>]*name="revision"[^>]*value="(\d+)"', html)
    assert match, "the reflection editor has no revision field"
    return match.group(1)


def textarea_of(html: str) -> str:
    match = re.search(r'<textarea[^>]*name="text"[^>]*>(.*?)</textarea>', html, re.S)
    assert match, "no answer editor on the page"
    return match.group(1)


def write(client, url: str, text: str, button: str):
    """Type into the editor as loaded now and press a button ("save" or "submit")."""
    page = text_of(client.get(url))
    labels = {"save": "Save draft", "submit": "Submit for review"}
    return post_form(
        client, url, {"text": text, "revision": revision_of(page), button: labels[button]}
    )


def review(client, url: str, outcome: str, comment: str = ""):
    return post_form(client, url, {"outcome": outcome, "comment": comment})


def test_a_case_from_first_sign_in_to_a_verified_certificate(
    app, make_user, make_court, make_cohort, make_enrollment
):
    court = make_court("King County District Court")
    facilitator = make_user(Role.FACILITATOR, name="Dana Whitfield")
    clerk = make_user(Role.CLERK, court=court, name="Rosa Delgado")
    admin = make_user(Role.ADMIN, name="Ada Director")
    participant = make_user(Role.PARTICIPANT, name="Michael Thornton")
    cohort = make_cohort(facilitator=facilitator)  # three weekly sessions, all in the past
    make_enrollment(participant=participant, cohort=cohort, court=court, case_number=CASE)
    db.session.commit()

    # --- the participant reads his course ----------------------------------------------------
    me = signed_in(app, participant)
    home = text_of(me.get("/me/"))
    assert PROGRAM_TITLE in home
    assert CASE in home
    for number, title in MODULE_TITLES.items():
        assert f"Session {number}: {title}" in home
    # Every session has been held, so "this week" is the last one.
    this_week = home.split("This week", 1)[1].split("</section>", 1)[0]
    assert "Session 3: Why Men Buy" in this_week
    [this_week_url] = links(this_week, r"/me/modules/\d+")
    assert this_week_url == "/me/modules/3"
    assert "Which excuses from this week" in text_of(me.get(this_week_url))

    prompt_urls = {}
    for number, title in MODULE_TITLES.items():
        response = me.get(f"/me/modules/{number}")
        assert response.status_code == 200
        page = text_of(response)
        assert f"<h1>{title}</h1>" in page
        assert "SESSION 1 - WHY YOU ARE HERE" not in page  # facilitator notes stay hidden
        prompt_urls[number] = links(page, r"/me/reflections/\d+")
    assert "Describe in your own words what happened" in text_of(me.get("/me/modules/1"))
    # Prompts appear in their order in the module; the optional ones come second.
    what_happened = prompt_urls[1][0]
    other_required = {
        "person": (prompt_urls[2][0], 100),
        "excuses": (prompt_urls[3][0], 100),
        "looking": (prompt_urls[3][1], 60),
    }

    # --- he writes his first answer: draft, too short, then submitted --------------------------
    page = text_of(me.get(what_happened))
    assert "Describe in your own words what happened on the day you were arrested" in page
    assert "Write at least 80 words" in page
    assert textarea_of(page).strip() == ""

    draft = "I was driving home from work and I stopped"
    response = write(me, what_happened, draft, "save")
    assert response.status_code == 302
    page = text_of(me.get(what_happened))
    assert "Draft saved." in page
    assert textarea_of(page) == draft

    too_short = answer("Qzshortone", 20)
    response = write(me, what_happened, too_short, "submit")
    assert response.status_code == 422
    page = text_of(response)
    assert "Your answer has 20 words. Write at least 80 words" in page
    assert textarea_of(page) == too_short  # nothing he typed is lost

    first = answer("Qzfirstattempt", 85)
    response = write(me, what_happened, first, "submit")
    assert response.status_code == 302
    page = text_of(me.get(what_happened))
    assert "Your answer was sent for review" in page
    assert "waiting for review" in page
    assert "<textarea" not in page  # a submitted answer cannot be edited

    markers = {"person": "Qzperson", "excuses": "Qzexcuses", "looking": "Qzlooking"}
    for name, (url, minimum) in other_required.items():
        assert write(me, url, answer(markers[name], minimum), "submit").status_code == 302

    # --- the facilitator returns it with a comment, accepts the rest ---------------------------
    fac = signed_in(app, facilitator)
    queue = text_of(fac.get("/facilitator/reviews"))
    assert "Michael Thornton" in queue
    assert "4 waiting" in queue
    review_urls = {}
    for url in links(queue, r"/facilitator/reviews/\d+"):
        page = text_of(fac.get(url))
        marker = next(m for m in ["Qzfirstattempt", *markers.values()] if m in page)
        review_urls[marker] = url
    assert len(review_urls) == 4

    response = review(fac, review_urls["Qzfirstattempt"], "returned", "")
    assert "Write a comment so he knows what to change." in text_of(response)
    response = review(fac, review_urls["Qzfirstattempt"], "returned", RETURN_COMMENT)
    assert response.status_code == 302
    for marker in markers.values():
        assert review(fac, review_urls[marker], "accepted").status_code == 302
    assert "Nothing is waiting for review" in text_of(fac.get("/facilitator/reviews"))

    # --- he reads the feedback, revises and resubmits: attempt 2 -------------------------------
    page = text_of(me.get(what_happened))
    assert "Feedback from Dana Whitfield" in page
    assert RETURN_COMMENT in page
    assert "Returned for revision" in page
    assert textarea_of(page) == first  # he revises his own words, not an empty box

    second = answer("Qzsecondattempt", 95)
    assert write(me, what_happened, second, "submit").status_code == 302
    page = text_of(me.get(what_happened))
    assert "Attempt 2" in page and "Attempt 1" in page
    assert "Qzsecondattempt" in page and "Qzfirstattempt" in page

    queue = text_of(fac.get("/facilitator/reviews"))
    assert "1 waiting" in queue
    [url] = links(queue, r"/facilitator/reviews/\d+")
    page = text_of(fac.get(url))
    assert "Attempt 2" in page and "Qzsecondattempt" in page
    assert "Qzfirstattempt" in page and RETURN_COMMENT in page  # the earlier attempt, kept
    assert review(fac, url, "accepted", "Clear and honest.").status_code == 302
    assert "accepted by Dana Whitfield" in text_of(me.get(what_happened))

    home = text_of(me.get("/me/"))
    assert "3 more sessions to attend (0 of 3 credited)." in home
    assert "reflections to write" not in home  # every required reflection is accepted

    # --- attendance for all three sessions, through the roster form ----------------------------
    [cohort_url] = links(text_of(fac.get("/facilitator/")), r"/facilitator/cohorts/\d+")
    cohort_page = text_of(fac.get(cohort_url))
    roster_urls = links(cohort_page, r"/facilitator/sessions/\d+/attendance")
    assert len(roster_urls) == 3
    marks = [("present", ""), ("late", "95"), ("present", "")]
    for number, (url, (status, minutes)) in enumerate(zip(roster_urls, marks, strict=True), 1):
        roster = text_of(fac.get(url))
        assert "Michael Thornton" in roster and CASE in roster
        enrollment_id = re.search(r'name="rows-0-enrollment_id"[^>]*value="(\d+)"', roster).group(1)
        response = post_form(
            fac,
            url,
            {
                "rows-0-enrollment_id": enrollment_id,
                "rows-0-status": status,
                "rows-0-minutes": minutes,
                "rows-0-note": "Arrived during check-in" if status == "late" else "",
                "rows-0-reason": "",
            },
        )
        assert response.status_code == 302, text_of(response)
        assert f"Attendance saved for session {number} (1 change(s))." in text_of(
            fac.get(response.headers["Location"])
        )

    # --- the facilitator issues the certificate ------------------------------------------------
    [enrollment_url] = links(text_of(fac.get(cohort_url)), r"/facilitator/enrollments/\d+")
    page = text_of(fac.get(enrollment_url))
    assert "Every required session is credited and every required reflection accepted." in page
    assert "3/3 credited" in page
    [issue_url] = re.findall(r'action="(/cases/\d+/certificate)"', page)  # the button's form
    response = post_form(fac, issue_url, {}, page=enrollment_url)
    assert response.status_code == 302
    page = text_of(fac.get(response.headers["Location"]))
    number = re.search(r"Certificate (AAC-\d{4}-\d{4}) issued\.", page).group(1)
    cert = db.session.scalar(sa.select(Certificate).where(Certificate.number == number))
    assert cert.sha256 in page
    assert "You finished the course" in text_of(me.get("/me/"))

    # --- the clerk of the same court finds the case and downloads the certificate -------------
    court_client = signed_in(app, clerk)
    results = text_of(court_client.get("/court/", query_string={"q": CASE}))
    assert "1 case(s)" in results
    [case_url] = links(results, r"/court/cases/\d+")
    assert links(text_of(court_client.get("/court/?q=thornton")), r"/court/cases/\d+") == [case_url]
    case_page = text_of(court_client.get(case_url))
    assert f"{CASE}: Michael Thornton" in case_page
    assert "Completed" in case_page
    assert "3 of 3" in case_page and "5.6 hours" in case_page
    assert "4 of 4 required" in case_page
    for never_shown in ["Qzfirstattempt", "Qzsecondattempt", *markers.values(), RETURN_COMMENT]:
        assert never_shown not in case_page
        assert never_shown not in results

    [pdf_url] = links(case_page, r"/court/certificates/\d+\.pdf")
    response = court_client.get(pdf_url)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    pdf = response.get_data()
    digest = hashlib.sha256(pdf).hexdigest()
    db.session.refresh(cert)
    assert digest == cert.sha256 == response.headers["X-Content-SHA256"]
    assert digest in case_page
    assert me.get(f"/me/certificates/{cert.id}.pdf").get_data() == pdf

    pdf_text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Michael Thornton" in pdf_text and number in pdf_text and CASE in pdf_text
    code = CODE_RE.search(pdf_text).group(0)
    assert code.replace("-", "") == cert.verification_code

    # --- anyone holding it can verify it --------------------------------------------------------
    public = app.test_client()
    for response in (
        public.get(f"/verify/{code}"),
        post_form(public, "/verify", {"code": code.lower()}),
        post_form(
            public,
            "/verify",
            {"code": "", "pdf": (io.BytesIO(pdf), "certificate.pdf")},
            content_type="multipart/form-data",
        ),
    ):
        assert response.status_code == 200
        page = text_of(response)
        assert "This certificate is valid" in page
        assert "Michael Thornton" in page
        assert PROGRAM_TITLE in page
        assert number in page

    tampered = bytearray(pdf)
    tampered[len(tampered) // 2] ^= 0x01
    response = post_form(
        public,
        "/verify",
        {"code": "", "pdf": (io.BytesIO(bytes(tampered)), "certificate.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 404
    assert "This file is not an issued document" in text_of(response)
    assert "Michael Thornton" not in text_of(response)

    # --- every look at the case was recorded, and the chain holds ------------------------------
    actions = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert actions.count("case.view") == 1
    assert actions.count("certificate.download") == 2
    assert actions.count("certificate.verify") == 4
    director = signed_in(app, admin)
    overview = text_of(director.get("/admin/"))
    assert "Chain intact" in overview
    assert number in overview
