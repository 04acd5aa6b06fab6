"""Writing a reflection with nothing lost: the editor's autosave, the text given back after a
session ends, one attempt for a double click, due dates and late marks, and the whole way from
draft to accepted. Through the HTTP client with CSRF on, and through the services."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from intervention.extensions import db
from intervention.i18n import format_datetime
from intervention.models import (
    CurriculumVersion,
    Module,
    Program,
    ReflectionAttempt,
    ReflectionPrompt,
    ReflectionState,
    ReviewOutcome,
    SessionStatus,
    utcnow,
)
from intervention.services import reflections as reflection_service

from .conftest import csrf_token
from .helpers import answer, prompts_by_key, signed_in, text_of, today

SIGNED_OUT = "You were signed out. Your text is kept on this device. Sign in again to save it."


def page_url(prompt) -> str:
    return f"/me/reflections/{prompt.id}"


def draft_url(prompt) -> str:
    return f"/me/reflections/{prompt.id}/draft"


def revision_of(html: str) -> int:
    match = re.search(r'<input[^>]*name="revision"[^>]*value="(\d+)"', html)
    assert match, "the editor has no revision field"
    return int(match.group(1))


def textarea_of(html: str, name: str = "text") -> str:
    match = re.search(rf'<textarea[^>]*id="{name}"[^>]*>(.*?)</textarea>', html, re.S)
    assert match, f"no textarea #{name} on the page"
    return match.group(1)


def autosave(client, prompt, text: str, revision: int, token: str | None = None, **headers):
    """What static/js/reflection.js sends: FormData with the text, revision and CSRF token."""
    token = token if token is not None else csrf_token(client, page_url(prompt))
    return client.post(
        draft_url(prompt),
        data={"text": text, "revision": str(revision), "csrf_token": token},
        headers={"Accept": "application/json", **headers},
    )


def press(client, prompt, text: str, button: str, revision: int | None = None):
    """Post the editor form as a browser without JavaScript does."""
    page = text_of(client.get(page_url(prompt)))
    labels = {"save": "Save draft", "submit": "Submit for review"}
    return client.post(
        page_url(prompt),
        data={
            "text": text,
            "revision": str(revision_of(page) if revision is None else revision),
            button: labels[button],
            "csrf_token": csrf_token(client, page_url(prompt)),
        },
    )


@pytest.fixture
def case(make_enrollment):
    enrollment = make_enrollment()  # three weekly sessions, all held
    db.session.commit()
    return enrollment


@pytest.fixture
def me(app, case):
    return signed_in(app, case.participant)


@pytest.fixture
def prompt(case):
    return prompts_by_key(case)["what-happened"]  # session 1, at least 80 words


def reflection_of(case, prompt):
    db.session.expire_all()
    return reflection_service.reflection_for(case, prompt)


# --- the autosave endpoint -------------------------------------------------------------------


class TestAutosave:
    def test_a_draft_is_saved_and_the_page_shows_it(self, me, case, prompt):
        response = autosave(me, prompt, "I was driving home  \n\nand I stopped.", 0)
        assert response.status_code == 200
        data = response.get_json()
        reflection = reflection_of(case, prompt)
        assert data["revision"] == reflection.draft_revision == 1
        assert data["words"] == 7
        assert re.fullmatch(r"\d{1,2}:\d\d [AP]M", data["saved_at"])
        local = reflection.draft_saved_at.astimezone(ZoneInfo(case.cohort.timezone))
        assert data["saved_at"] == f"{local:%I}".lstrip("0") + f":{local:%M} {local:%p}"
        assert reflection.draft_text == "I was driving home  \n\nand I stopped."  # as typed

        page = text_of(me.get(page_url(prompt)))
        assert textarea_of(page) == "I was driving home  \n\nand I stopped."
        assert revision_of(page) == 1
        assert "Draft last saved" in page
        assert 'data-saved="1"' in page

        # The next save builds on the revision the last one returned.
        again = autosave(me, prompt, "I was driving home and I stopped for her.", 1)
        assert again.get_json()["revision"] == 2

    def test_a_save_from_a_page_another_tab_has_overtaken_is_refused(self, me, case, prompt):
        assert autosave(me, prompt, "Written in the phone tab", 0).status_code == 200
        response = autosave(me, prompt, "Written in the laptop tab", 0)
        assert response.status_code == 409
        data = response.get_json()
        assert data["error"] == "stale"
        assert "changed in another window or device" in data["message"]
        assert "Your text here was not saved over it." in data["message"]
        reflection = reflection_of(case, prompt)
        assert (reflection.draft_text, reflection.draft_revision) == ("Written in the phone tab", 1)

    def test_the_same_text_from_an_older_page_is_not_a_conflict(self, me, case, prompt):
        """The save a closing page sent has landed; the page sends the same text again."""
        autosave(me, prompt, "Kept as I left it", 0)
        response = autosave(me, prompt, "Kept as I left it", 0)
        assert response.status_code == 200
        assert response.get_json()["revision"] == 1
        assert reflection_of(case, prompt).draft_revision == 1

    def test_a_locked_module_refuses_drafts(self, app, make_cohort, make_enrollment):
        future = make_cohort(start=datetime.now(UTC).date() + timedelta(weeks=2))
        enrollment = make_enrollment(cohort=future)
        db.session.commit()
        client = signed_in(app, enrollment.participant)
        prompt = prompts_by_key(enrollment)["what-happened"]
        response = autosave(client, prompt, "Too early", 0, token=csrf_token(client, "/me/"))
        assert response.status_code == 403
        assert response.get_json()["error"] == "locked"
        assert enrollment.reflections == []
        assert client.get(page_url(prompt)).status_code == 403

    def test_a_prompt_outside_his_course_is_not_found(self, me, case):
        program = Program(slug="another-program", code="ANO", title="Another program")
        version = CurriculumVersion(
            program=program, label="1", content_hash="f" * 64, policy={}, rubric=[]
        )
        module = Module(
            version=version,
            session_number=1,
            source_path="modules/01.md",
            title="Elsewhere",
            duration_minutes=60,
            body_markdown="",
            body_html="",
        )
        foreign = ReflectionPrompt(module=module, key="q", text="Someone else's question")
        db.session.add_all([program, version, module, foreign])
        db.session.commit()
        token = csrf_token(me, "/me/")
        for prompt_id in (foreign.id, 999_999):
            response = me.post(
                f"/me/reflections/{prompt_id}/draft",
                data={"text": "Mine", "revision": "0", "csrf_token": token},
                headers={"Accept": "application/json"},
            )
            assert response.status_code == 404
            assert response.get_json()["error"] == "not_found"

    def test_another_mans_draft_on_the_same_prompt_is_never_touched(
        self, app, me, case, prompt, make_enrollment
    ):
        other = make_enrollment(cohort=case.cohort)
        theirs = reflection_service.reflection_for(other, prompt)
        reflection_service.save_draft(theirs, "His own words", 0, other.participant)
        db.session.commit()
        assert autosave(me, prompt, "My words", 0).status_code == 200
        db.session.expire_all()
        assert theirs.draft_text == "His own words"
        assert reflection_of(case, prompt).draft_text == "My words"

    def test_signed_out_the_autosave_gets_json_not_a_sign_in_page(self, client, prompt):
        token = csrf_token(client, "/login")
        response = autosave(client, prompt, "Written after my session ended", 0, token=token)
        assert response.status_code == 401
        assert "Location" not in response.headers
        assert response.get_json() == {"error": "signed_out", "message": SIGNED_OUT}

    def test_an_autosave_whose_session_ended_is_told_so(self, me, prompt):
        """After a sign-out elsewhere the session, and with it the CSRF secret, is gone."""
        response = autosave(me, prompt, "Still writing", 0, token="a-token-from-a-lost-session")
        assert response.status_code == 400
        assert response.get_json() == {"error": "signed_out", "message": SIGNED_OUT}

    def test_an_answer_waiting_for_review_takes_no_drafts(self, me, case, prompt):
        reflection = reflection_of(case, prompt)
        reflection_service.submit(reflection, answer("Sent", 80), 0, case.participant)
        db.session.commit()
        response = autosave(me, prompt, "An edit", 1)
        assert response.status_code == 409
        assert response.get_json()["error"] == "closed"
        assert "waiting for review" in response.get_json()["message"]

    def test_an_answer_too_long_is_refused_with_the_reason(self, me, prompt):
        response = autosave(me, prompt, "word " * 4001, 0)
        assert response.status_code == 422
        assert response.get_json()["message"] == "Keep your answer under 20000 characters."


# --- the page and its script --------------------------------------------------------------------


def test_the_editor_loads_its_script_from_a_file_and_explains_formatting(me, prompt):
    page = text_of(me.get(page_url(prompt)))
    assert '<script src="/static/js/reflection.js" defer></script>' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "no inline script"
    assert " style=" not in page
    assert f'data-draft-url="{draft_url(prompt)}"' in page
    assert 'data-min-words="80"' in page
    assert 'aria-live="polite"' in page
    assert "You do not need any special format." in page
    assert "Leave an empty line to start a new paragraph." in page
    assert "0 words now. Write at least 80." in page
    assert me.get("/static/js/reflection.js").status_code == 200


def test_the_script_counts_words_with_the_servers_rule(app):
    """The script mirrors services.reflections.WORD; if one changes, so must the other."""
    script = (app.static_folder + "/js/reflection.js").replace("//", "/")
    with open(script, encoding="utf-8") as handle:
        source = handle.read()
    assert "[\\\\p{L}\\\\p{N}]+(?:['\\u2019-][\\\\p{L}\\\\p{N}]+)*" in source
    assert reflection_service.WORD.pattern == r"[^\W_]+(?:['’-][^\W_]+)*"


# --- text sent after the session ended is shown back ---------------------------------------------


def test_a_form_whose_session_expired_gives_the_text_back(me, case, prompt):
    me.get(page_url(prompt))
    text = "My answer, with <b>angle brackets</b> & all,\n\nwritten over an hour."
    response = me.post(
        page_url(prompt),
        data={"text": text, "revision": "0", "submit": "Submit for review", "csrf_token": "old"},
    )
    assert response.status_code == 400
    page = text_of(response)
    assert "Your form expired" in page
    assert "Copy your text, sign in again, and paste it." in page
    assert textarea_of(page, "kept-text") == (
        "My answer, with &lt;b&gt;angle brackets&lt;/b&gt; &amp; all,\n\nwritten over an hour."
    )
    assert "readonly" in page.split('id="kept-text"', 1)[1].split(">", 1)[0]
    assert response.headers["Cache-Control"] == "no-store"
    assert reflection_of(case, prompt).attempts == []


def test_a_signed_out_man_posting_his_answer_gets_it_back(client, case, prompt):
    token = csrf_token(client, "/login")
    text = answer("Qqwrittenlate", 90)
    response = client.post(
        page_url(prompt),
        data={"text": text, "revision": "0", "submit": "Submit for review", "csrf_token": token},
    )
    assert response.status_code == 401
    page = text_of(response)
    assert "You were signed out" in page
    assert "Copy your text, sign in again, and paste it." in page
    assert textarea_of(page, "kept-text") == text
    assert f'href="{page_url(prompt)}">Sign in again</a>' in page
    # Without a text there is nothing to keep: the usual way to the sign-in page.
    empty = client.post(page_url(prompt), data={"revision": "0", "csrf_token": token})
    assert empty.status_code == 302
    assert empty.headers["Location"].startswith("/login")


def test_text_posted_from_another_site_is_never_shown_back(client, me, prompt):
    """Another site must not be able to put its words on this site's pages."""
    token = csrf_token(client, "/login")
    planted = "Your account is locked. Call 555-0100."
    response = client.post(
        page_url(prompt),
        data={"text": planted, "revision": "0", "csrf_token": token},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 302
    response = me.post(
        page_url(prompt),
        data={"text": planted, "revision": "0"},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 400
    assert planted not in text_of(response)


# --- submitting: minimum words, one attempt per answer -------------------------------------------


def test_a_refused_submit_keeps_every_character_he_typed(me, case, prompt):
    press(me, prompt, "An early draft", "save")
    typed = "  Twenty words is not enough,\n\n- but it is a start  " + " word" * 10
    response = press(me, prompt, typed, "submit")
    assert response.status_code == 422
    page = text_of(response)
    assert "Write at least 80 words, then submit. Your text has been kept." in page
    assert textarea_of(page) == typed
    assert 'data-saved="0"' in page  # the script saves what the server refused to submit
    reflection = reflection_of(case, prompt)
    assert (reflection.draft_text, reflection.attempts) == ("An early draft", [])


def test_a_double_click_on_submit_makes_one_attempt(me, case, prompt):
    text = answer("Qqdouble", 85)
    page = text_of(me.get(page_url(prompt)))
    form = {
        "text": text,
        "revision": str(revision_of(page)),
        "submit": "Submit for review",
        "csrf_token": csrf_token(me, page_url(prompt)),
    }
    first = me.post(page_url(prompt), data=form)
    second = me.post(page_url(prompt), data=form)  # the same form, a moment later
    assert (first.status_code, second.status_code) == (302, 302)
    page = text_of(me.get(page_url(prompt)))
    assert page.count("Attempt 1") == 1
    assert "Attempt 2" not in page
    assert len(reflection_of(case, prompt).attempts) == 1


def test_a_write_sqlite_refused_during_another_click_is_tried_again(me, case, prompt, monkeypatch):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL makes the second writer wait; it never refuses at once")
    real, calls = reflection_service.submit, []

    def locked_the_first_time(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
        return real(*args, **kwargs)

    monkeypatch.setattr(reflection_service, "submit", locked_the_first_time)
    response = press(me, prompt, answer("Qqbusy", 80), "submit")
    assert response.status_code == 302
    assert len(calls) == 2
    assert len(reflection_of(case, prompt).attempts) == 1


def _insert_attempt_as_another_request(reflection, text: str) -> None:
    """What a concurrent copy of the same submit has done between our read and our write."""
    db.session.execute(
        sa.text(
            "INSERT INTO reflection_attempts (reflection_id, number, text, word_count, "
            "submitted_at) VALUES (:r, 1, :text, 80, :at)"
        ),
        {"r": reflection.id, "text": text, "at": utcnow()},
    )
    db.session.execute(
        sa.text("UPDATE reflections SET state = 'submitted', draft_revision = 1 WHERE id = :r"),
        {"r": reflection.id},
    )


class TestSubmitRace:
    def test_the_same_text_stored_first_by_another_request_is_the_same_attempt(self, case, prompt):
        reflection = reflection_of(case, prompt)
        assert reflection.attempts == []  # what this request read
        text = answer("Qqrace", 80)
        _insert_attempt_as_another_request(reflection, text)

        attempt = reflection_service.submit(reflection, text, 0, case.participant)
        assert (attempt.number, attempt.text) == (1, text)
        assert reflection.state is ReflectionState.SUBMITTED
        count = sa.select(sa.func.count()).select_from(ReflectionAttempt)
        assert db.session.scalar(count.where(ReflectionAttempt.reflection_id == reflection.id)) == 1
        db.session.commit()  # the transaction survived the refused insert

    def test_a_different_text_stored_first_is_not_overwritten(self, case, prompt):
        reflection = reflection_of(case, prompt)
        assert reflection.attempts == []
        _insert_attempt_as_another_request(reflection, answer("Qqphone", 80))
        with pytest.raises(reflection_service.StaleDraft, match="changed in another window"):
            reflection_service.submit(reflection, answer("Qqlaptop", 80), 0, case.participant)
        assert [a.text for a in reflection.attempts] == [answer("Qqphone", 80)]

    def test_the_saved_text_can_be_submitted_from_a_page_with_an_older_revision(self, case, prompt):
        reflection = reflection_of(case, prompt)
        text = answer("Qqsaved", 80)
        reflection_service.save_draft(reflection, text, 0, case.participant)
        attempt = reflection_service.submit(reflection, text, 0, case.participant)
        assert attempt.number == 1
        with pytest.raises(reflection_service.StaleDraft):
            reflection_service.submit(
                reflection_of(case, prompts_by_key(case)["my-excuses"]),
                answer("Qqstale", 100),
                5,
                case.participant,
            )


# --- the way from draft to accepted --------------------------------------------------------------


def test_from_draft_through_a_return_to_accepted_with_attempts_frozen(me, case, prompt):
    facilitator = case.cohort.facilitators[0]
    first_text, second_text = answer("Qqfirst", 82), answer("Qqsecond", 95)

    # Draft: saved as he types.
    assert autosave(me, prompt, "I was driving", 0).status_code == 200
    assert reflection_of(case, prompt).state is ReflectionState.DRAFT

    # Submitted: attempt 1, and the editor gives way to "waiting for review".
    assert press(me, prompt, first_text, "submit").status_code == 302
    page = text_of(me.get(page_url(prompt)))
    assert "waiting for review" in page
    assert 'id="reflection-form"' not in page
    assert autosave(me, prompt, "edit while waiting", 2).status_code == 409

    # Returned: the feedback shows and he revises from what he sent.
    reflection = reflection_of(case, prompt)
    reflection_service.review(
        reflection.latest_attempt, ReviewOutcome.RETURNED, "Say what you decided.", facilitator
    )
    db.session.commit()
    page = text_of(me.get(page_url(prompt)))
    assert "Say what you decided." in page
    assert textarea_of(page) == first_text
    revision = revision_of(page)
    saved = autosave(me, prompt, second_text[:40], revision)
    assert saved.status_code == 200

    # Submitted again: attempt 2; attempt 1 is unchanged.
    response = press(me, prompt, second_text, "submit")
    assert response.status_code == 302
    reflection = reflection_of(case, prompt)
    assert [(a.number, a.text) for a in reflection.attempts] == [(1, first_text), (2, second_text)]
    assert reflection.state is ReflectionState.SUBMITTED

    # Accepted: nothing can change any more, and both attempts are as they were sent.
    reflection_service.review(reflection.latest_attempt, ReviewOutcome.ACCEPTED, "", facilitator)
    db.session.commit()
    page = text_of(me.get(page_url(prompt)))
    assert "Your answer was accepted" in page
    assert 'id="reflection-form"' not in page
    assert page.index("Attempt 2") < page.index("Attempt 1")
    response = autosave(me, prompt, "after", reflection_of(case, prompt).draft_revision)
    assert response.status_code == 409
    assert "accepted. It can no longer be changed" in response.get_json()["message"]
    assert press(me, prompt, "after", "submit", revision=5).status_code == 422
    reflection = reflection_of(case, prompt)
    assert [(a.number, a.text) for a in reflection.attempts] == [(1, first_text), (2, second_text)]
    assert reflection.state is ReflectionState.ACCEPTED


# --- due dates and late marks ---------------------------------------------------------------------


@pytest.fixture
def sessions(case):
    """The case's three sessions, in order."""
    return sorted(case.cohort.sessions, key=lambda s: s.scheduled_at)


class TestDueDates:
    def test_due_before_the_next_session(self, case, sessions):
        prompts = prompts_by_key(case)
        assert reflection_service.due_at(prompts["what-happened"], case) == sessions[1].scheduled_at
        reflection = reflection_service.reflection_for(
            case, prompts["the-person-on-the-other-side"]
        )
        assert reflection_service.due_at(reflection, case) == sessions[2].scheduled_at

    def test_a_cancelled_next_session_is_skipped(self, case, sessions):
        sessions[1].status = SessionStatus.CANCELLED
        db.session.flush()
        due = reflection_service.due_at(prompts_by_key(case)["what-happened"], case)
        assert due == sessions[2].scheduled_at

    def test_the_last_module_is_due_a_week_after_its_session(self, case, sessions):
        due = reflection_service.due_at(prompts_by_key(case)["my-excuses"], case)
        assert due == sessions[2].scheduled_at + timedelta(days=7)

    def test_the_program_can_set_days_after_the_session(self, case, sessions):
        case.cohort.version.reflection_due_days = 3
        db.session.flush()
        for key, session in (("what-happened", 0), ("my-excuses", 2)):
            due = reflection_service.due_at(prompts_by_key(case)[key], case)
            assert due == sessions[session].scheduled_at + timedelta(days=3)

    def test_a_module_without_a_session_has_no_due_date(self, case, sessions):
        db.session.delete(sessions[0])
        db.session.flush()
        db.session.expire(case.cohort, ["sessions"])
        assert reflection_service.due_at(prompts_by_key(case)["what-happened"], case) is None

    def test_late_is_marked_by_the_first_attempt_never_refused(self, case, sessions):
        man, facilitator = case.participant, case.cohort.facilitators[0]
        prompt = prompts_by_key(case)["what-happened"]
        due = sessions[1].scheduled_at
        reflection = reflection_service.reflection_for(case, prompt)
        assert reflection_service.deadline(prompt, reflection, case).late  # past due, unsent
        first = reflection_service.submit(reflection, answer("Late", 80), 0, man)
        first.submitted_at = due + timedelta(minutes=1)
        assert reflection_service.is_late(first)
        first.submitted_at = due - timedelta(minutes=1)
        assert not reflection_service.is_late(first)
        deadline = reflection_service.deadline(prompt, reflection, case)
        assert (deadline.due_at, deadline.late, deadline.sent) == (due, False, True)

        # Sent on time, returned, and revised a week later: still on time.
        reflection_service.review(first, ReviewOutcome.RETURNED, "More.", facilitator)
        second = reflection_service.submit(
            reflection, answer("Again", 80), reflection.draft_revision, man
        )
        second.submitted_at = due + timedelta(days=7)
        assert not reflection_service.is_late(second)

        first.submitted_at = due + timedelta(hours=2)  # had the first been late, both are
        assert reflection_service.is_late(second)

    def test_an_optional_prompt_is_never_late(self, case):
        prompt = prompts_by_key(case)["what-i-want-from-this"]
        reflection = reflection_service.reflection_for(case, prompt)
        assert not reflection_service.deadline(prompt, reflection, case).late
        attempt = reflection_service.submit(reflection, answer("Opt", 50), 0, case.participant)
        assert not reflection_service.is_late(attempt)

    def test_not_late_before_the_due_time(self, case, sessions):
        prompt = prompts_by_key(case)["my-excuses"]
        before = sessions[2].scheduled_at + timedelta(days=6)
        assert not reflection_service.deadline(prompt, None, case, now=before).late
        after = sessions[2].scheduled_at + timedelta(days=8)
        assert reflection_service.deadline(prompt, None, case, now=after).late


def test_my_reflections_groups_by_what_he_must_do(me, case, sessions):
    """Returned first, then what is due (oldest due first), waiting, accepted; with counts."""
    man, facilitator = case.participant, case.cohort.facilitators[0]
    prompts = prompts_by_key(case)
    returned = reflection_service.reflection_for(case, prompts["the-person-on-the-other-side"])
    attempt = reflection_service.submit(returned, answer("Ret", 100), 0, man)
    reflection_service.review(attempt, ReviewOutcome.RETURNED, "Say more.", facilitator)
    waiting = reflection_service.reflection_for(case, prompts["what-i-was-looking-for"])
    late = reflection_service.submit(waiting, answer("Wait", 60), 0, man)
    late.submitted_at = sessions[2].scheduled_at + timedelta(days=8)
    accepted = reflection_service.reflection_for(case, prompts["what-i-want-from-this"])
    attempt = reflection_service.submit(accepted, answer("Opt", 50), 0, man)
    reflection_service.review(attempt, ReviewOutcome.ACCEPTED, "", facilitator)
    db.session.commit()

    page = text_of(me.get("/me/reflections"))
    headings = re.findall(r'<h2 id="(\w+)-title">([^<]+) <span class="count">\((\d+)\)', page)
    assert headings == [
        ("returned", "To revise", "1"),
        ("due", "To write", "3"),
        ("waiting", "Waiting for review", "1"),
        ("accepted", "Accepted", "1"),
    ]
    assert 'href="#due">To write <strong>3</strong>' in page
    assert "Opens later <strong>0</strong>" in page
    due = page.split('id="due"', 1)[1].split("</section>", 1)[0]
    # Session 1's answer was due first; optional ones come after every required one.
    order = re.findall(r'href="/me/reflections/(\d+)"', due)
    keys = {str(p.id): key for key, p in prompts.items()}
    assert [keys[i] for i in order] == ["what-happened", "my-excuses", "behind-the-mask"]
    assert due.count(">Late</span>") == 2  # both required ones are past due
    assert "Optional" in due
    waiting_section = page.split('id="waiting"', 1)[1].split("</section>", 1)[0]
    assert "Sent late" in waiting_section


def test_the_module_and_reflection_pages_show_when_it_is_due(app, make_cohort, make_enrollment):
    start = today() - timedelta(days=2)  # session 2 is in five days
    enrollment = make_enrollment(cohort=make_cohort(start=start))
    db.session.commit()
    client = signed_in(app, enrollment.participant)
    prompt = prompts_by_key(enrollment)["what-happened"]
    session_2 = sorted(enrollment.cohort.sessions, key=lambda s: s.scheduled_at)[1]
    due = f"Due {format_datetime(session_2.scheduled_at, enrollment.cohort.timezone)}"
    for url in ("/me/modules/1", page_url(prompt), "/me/reflections"):
        page = text_of(client.get(url))
        assert due in page, url
        assert ">Late<" not in page.split("Session 1", 1)[1].split("Session 2", 1)[0], url
