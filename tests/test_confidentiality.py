"""Reflection text is for its author, his cohort's facilitators, its reviewer and admins only.

A case carries a distinctive string in his answers and in a review comment. Every route of the
app is then requested, with real ids, as people who may not read that text: a clerk of the
same court, a clerk of another court, another man of the same cohort, a facilitator of another
cohort, and someone not signed in. Neither string may appear in any response: HTML, JSON, CSV,
calendar feeds, PDFs (their extracted text) and the PDFs inside ZIP downloads. A route added
later fails the walk until it is given a request in tests/test_access.py's World.request.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta

import pytest
from weasyprint import HTML

from intervention.auth import invitations
from intervention.extensions import db
from intervention.models import (
    Certificate,
    CourtDocument,
    EnrollmentState,
    ReviewOutcome,
    Role,
    utcnow,
)
from intervention.services import calendar as calendar_service
from intervention.services import certificates as certificate_service
from intervention.services import documents as document_service
from intervention.services import reflections as reflection_service

from .conftest import csrf_token, login
from .helpers import (
    REQUIRED_PROMPTS,
    answer,
    drafted_notice,
    mark_all,
    pdf_text,
    prompts_by_key,
    save_provider,
    signed_in,
    stored_certificate,
    submit_answer,
)
from .test_access import ACCESS, FORM_DATA, SIGNING_OUT, World

ANSWER = "Qvxanswersecret"  # only in his answers and drafts
COMMENT = "Jkqcommentsecret"  # only in the reviews of his answers
SECRETS = (ANSWER, COMMENT)


def secret_answer(words: int) -> str:
    """An answer with the secret at its start, middle and end, so no excerpt misses it."""
    body = answer(ANSWER, words).split()
    body.insert(len(body) // 2, ANSWER)
    return " ".join([*body, ANSWER])


def submit(enrollment, key: str, words: int):
    return submit_answer(enrollment, key, secret_answer(words))


def build_world(kind: str, make_user, make_court, make_enrollment) -> World:
    """'open': a man part-way through, with an answer returned with a comment, its revision
    waiting, one accepted with a comment and a draft; 'completed': the same man finished,
    with a certificate rendered for real and an optional answer still waiting."""
    court = make_court()
    enrollment = make_enrollment(court=court)
    facilitator = enrollment.cohort.facilitators[0]
    admin = make_user(Role.ADMIN)
    save_provider(admin)  # documents carry the letterhead; its logo is a route to walk
    review = reflection_service.review

    returned = submit(enrollment, "what-happened", 80)
    review(returned, ReviewOutcome.RETURNED, f"Say more. {COMMENT} Be specific.", facilitator)
    revised = submit(enrollment, "what-happened", 90)
    waiting = revised
    if kind == "open":
        accepted = submit(enrollment, "my-excuses", 100)
        review(
            accepted, ReviewOutcome.ACCEPTED, f"Honest work. {COMMENT}", facilitator, {"harm": 2}
        )
        prompt = prompts_by_key(enrollment)["the-person-on-the-other-side"]
        draft = reflection_service.reflection_for(enrollment, prompt)
        reflection_service.save_draft(
            draft, secret_answer(30), draft.draft_revision, enrollment.participant
        )
        cert = stored_certificate(enrollment, admin, "C0NF1DENT1A00001")
    else:
        review(
            revised, ReviewOutcome.ACCEPTED, f"Thank you. {COMMENT}", facilitator, {"honesty": 2}
        )
        for key, words in REQUIRED_PROMPTS.items():
            if key != "what-happened":
                attempt = submit(enrollment, key, words)
                review(attempt, ReviewOutcome.ACCEPTED, f"Good. {COMMENT}", facilitator)
        mark_all(enrollment, facilitator)
        waiting = submit(enrollment, "behind-the-mask", 50)
        cert = certificate_service.issue(enrollment, facilitator)
    notice = drafted_notice(enrollment)
    report = document_service.progress_report(enrollment, facilitator)
    calendar_service.ensure_token(enrollment.participant)
    db.session.commit()
    return World(
        enrollment=enrollment,
        participant=enrollment.participant,
        facilitator=facilitator,
        clerk=make_user(Role.CLERK, court=court),
        admin=admin,
        attempt=waiting,
        prompt_id=waiting.reflection.prompt_id,
        session=enrollment.cohort.sessions[0],
        cohort=enrollment.cohort,
        certificate_id=cert.id,
        notice_id=notice.id,
        report_id=report.id,
    )


@pytest.fixture(params=["open", "completed"])
def world(request, make_user, make_court, make_enrollment) -> World:
    return build_world(request.param, make_user, make_court, make_enrollment)


# --- reading every kind of response --------------------------------------------------------------


def readable(data: bytes) -> list[str]:
    """Every text a person could read out of these bytes."""
    texts = [data.decode("utf-8", "replace")]
    if data.startswith(b"%PDF"):
        # A stored stand-in is no real PDF: its raw bytes, above, are checked anyway.
        texts.append(pdf_text(data, stand_in_reads_empty=True))
    if data.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                texts.append(name)
                texts.extend(readable(archive.read(name)))
    return texts


def leaks(data: bytes) -> list[str]:
    """The secrets found in the response, whitespace removed (PDF text breaks words up)."""
    found = []
    for text in readable(data):
        squashed = re.sub(r"\s+", "", text).lower()
        found += [s for s in SECRETS if s.lower() in squashed]
    return sorted(set(found))


# --- the walk ------------------------------------------------------------------------------------


def public_requests(world: World) -> dict[str, tuple[str, str]]:
    """Requests for the public routes, which World.request leaves out."""
    cert = db.session.get(Certificate, world.certificate_id)
    return {
        "static": ("GET", "/static/css/app.css"),
        "public.index": ("GET", "/"),
        "public.healthz": ("GET", "/healthz"),
        "public.verify": ("GET", "/verify"),
        "public.verify_code": (
            "GET",
            f"/verify/{certificate_service.format_code(cert.verification_code)}",
        ),
        "auth.login": ("GET", "/login"),
        "auth.welcome": ("GET", f"/welcome/{invitations.make_token(world.participant)}"),
    }


def extra_requests(world: World) -> list[tuple[str, str]]:
    """Variants that could reach more text: a search that finds the case, other queue
    states, a download range that holds today's documents. (A search for the secret itself
    would only echo what the clerk typed.)"""
    today = utcnow().date()
    span = f"from={(today - timedelta(days=300)).isoformat()}&to={today.isoformat()}"
    return [
        ("GET", f"/court/?q={world.enrollment.case_number}"),
        ("GET", f"/court/export.zip?{span}"),
        ("GET", f"/court/cases.csv?q={world.enrollment.case_number}"),
        ("GET", "/facilitator/reviews?state=returned"),
        ("GET", "/facilitator/reviews?state=accepted"),
        ("GET", f"/facilitator/reviews?cohort={world.cohort.id}"),
        ("GET", f"/me/reflections/{prompts_by_key(world.enrollment)['what-happened'].id}"),
        ("GET", f"/me/reflections/{prompts_by_key(world.enrollment)['my-excuses'].id}"),
    ]


def all_requests(app, world: World) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every route of the app and a few variants."""
    public = public_requests(world)
    endpoints = sorted({rule.endpoint for rule in app.url_map.iter_rules()})
    missing, requests = [], []
    for endpoint in endpoints:
        try:
            method, url = public[endpoint] if endpoint in public else world.request(endpoint)
        except KeyError:
            missing.append(endpoint)
            continue
        requests.append((endpoint, method, url))
    assert not missing, (
        "routes the confidentiality walk cannot reach; give them a request in "
        f"World.request (tests/test_access.py): {missing}"
    )
    requests += [("(variant)", method, url) for method, url in extra_requests(world)]
    # Reads first, then the forms (renewing a calendar link ends the old feed), sign-out last.
    requests.sort(key=lambda r: (r[0] in SIGNING_OUT, r[1] != "GET"))
    return requests


def walk(app, client, world: World, token_page: str) -> dict[str, list[str]]:
    """Request every route (and the page each redirect leads to); return what leaked where."""
    found = {}
    for endpoint, method, url in all_requests(app, world):
        if method == "GET":
            response = client.get(url)
        else:
            # The second way of signing out comes after the first: its token is read from a
            # public page, which has a form whether he is signed in or not.
            page = "/verify" if endpoint in SIGNING_OUT else token_page
            data = {**FORM_DATA.get(endpoint, {}), "csrf_token": csrf_token(client, page)}
            response = client.post(url, data=data)
        responses = [(f"{method} {url}", response)]
        location = response.headers.get("Location", "")
        if response.status_code in (301, 302, 303) and location.startswith("/"):
            if endpoint != "auth.logout":
                responses.append((f"  then GET {location}", client.get(location)))
        for label, r in responses:
            leaked = leaks(r.get_data())
            if leaked:
                found[f"{label} ({endpoint}) {r.status_code}"] = leaked
    return found


def viewers(world: World, make_user, make_court, make_enrollment) -> dict:
    """{who: (user or None, the page his forms' CSRF token is read from)}."""
    other_man = make_enrollment(cohort=world.cohort, court=world.enrollment.court)
    reflection_service.reflection_for(other_man, prompts_by_key(other_man)["what-happened"])
    elsewhere = make_enrollment(court=world.enrollment.court)
    theirs = reflection_service.reflection_for(
        elsewhere, prompts_by_key(elsewhere)["what-happened"]
    )
    reflection_service.submit(theirs, answer("Qzelsewhere", 80), 0, elsewhere.participant)
    other_clerk = make_user(Role.CLERK, court=make_court("Another Court"))
    db.session.commit()
    return {
        "clerk of the same court": (world.clerk, "/court/"),
        "clerk of another court": (other_clerk, "/court/"),
        "another man of the same cohort": (other_man.participant, "/me/"),
        "facilitator of another cohort": (elsewhere.cohort.facilitators[0], "/facilitator/"),
        "someone not signed in": (None, "/login"),
    }


def test_no_route_shows_reflection_text_to_anyone_else(
    app, world, make_user, make_court, make_enrollment
):
    found = {}
    for who, (user, home) in viewers(world, make_user, make_court, make_enrollment).items():
        client = app.test_client()
        if user is not None:
            login(client, user)
        for where, secrets in walk(app, client, world, home).items():
            found[f"{who}: {where}"] = secrets
    assert not found, "reflection text shown to those who may not read it:\n" + "\n".join(
        f"{where}: {secrets}" for where, secrets in found.items()
    )


def test_the_walk_finds_the_text_wherever_it_is(app, world):
    """The control: the strings are there for those who may read them, the walk run as his
    facilitator finds them, and text inside a compressed PDF, and inside a PDF inside a ZIP,
    is found too."""
    prompt = prompts_by_key(world.enrollment)["what-happened"]
    reflection = reflection_service.reflection_for(world.enrollment, prompt)
    latest = reflection.latest_attempt  # its page shows the first attempt's returned comment
    for user, url in [
        (world.facilitator, f"/facilitator/reviews/{latest.id}"),
        (world.admin, f"/facilitator/reviews/{latest.id}"),
        (world.participant, f"/me/reflections/{prompt.id}"),
    ]:
        client = signed_in(app, user)
        assert leaks(client.get(url).get_data()) == sorted(SECRETS), (user, url)

    client = signed_in(app, world.facilitator)
    found = walk(app, client, world, "/facilitator/")
    assert any("(facilitator.review)" in where for where in found), found

    pdf = HTML(string=f"<p>He wrote {ANSWER}.</p><p>She said {COMMENT}.</p>").write_pdf()
    assert ANSWER.encode() not in pdf  # compressed: only the extracted text shows it
    assert leaks(pdf) == sorted(SECRETS)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("report.pdf", pdf)
    assert leaks(archive.getvalue()) == sorted(SECRETS)


def test_the_walk_reaches_real_pages(app, world):
    """Each route answers its own audience, so the walk above reads real records, not
    404s. (A refusal in words, such as a draft save on an accepted answer, is fine.)"""
    users = {Role.PARTICIPANT: world.participant, Role.FACILITATOR: world.facilitator}
    users |= {Role.CLERK: world.clerk, Role.ADMIN: world.admin}
    clients = {}
    wrong = []
    for endpoint, method, url in all_requests(app, world):
        allowed = ACCESS.get(endpoint, "public")
        if endpoint in (*SIGNING_OUT, "(variant)"):
            continue
        role = Role.ADMIN if allowed == "public" else sorted(allowed)[0]
        if role not in clients:
            clients[role] = app.test_client()
            login(clients[role], users[role])
        client = clients[role]
        if method == "GET":
            response = client.get(url)
        else:
            home = {Role.PARTICIPANT: "/me/", Role.CLERK: "/court/"}.get(role, "/facilitator/")
            data = {**FORM_DATA.get(endpoint, {}), "csrf_token": csrf_token(client, home)}
            response = client.post(url, data=data)
        if response.status_code in (400, 403, 404) or response.status_code >= 500:
            wrong.append(f"{method} {url} ({endpoint}) as {role.value}: {response.status_code}")
    assert not wrong, "\n".join(wrong)


def test_the_certificate_and_court_documents_carry_no_reflection_text(world):
    """Generated for this case, read back as text: the certificate (rendered for real once
    he completed), the progress report and the non-compliance notice."""
    notice = db.session.get(CourtDocument, world.notice_id)
    document_service.generate_notice(notice, world.facilitator)
    db.session.commit()
    pdfs = {doc.kind.value: doc.pdf for doc in document_service.documents_for(world.enrollment)}
    assert {"progress_report", "noncompliance_notice"} <= pdfs.keys()
    if world.enrollment.state is EnrollmentState.COMPLETED:  # the open case has a stand-in
        pdfs["certificate"] = db.session.get(Certificate, world.certificate_id).pdf
    for kind, pdf in pdfs.items():
        text = pdf_text(pdf)
        assert world.enrollment.case_number in text, kind  # the PDF was really read
        assert leaks(pdf) == [], kind
    assert len(pdfs) == (3 if world.enrollment.state is EnrollmentState.COMPLETED else 2)
