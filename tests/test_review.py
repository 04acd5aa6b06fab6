"""Reviewing reflections: whose queue an answer is in, the queue's filters and counts, rubric
scores, going on to the next answer, two reviewers at once, and handing a cohort's reviews to
one facilitator."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from intervention.access import can_read_reflection, can_review
from intervention.extensions import db
from intervention.models import (
    AuditEvent,
    Cohort,
    ReflectionState,
    Review,
    ReviewOutcome,
    Role,
    utcnow,
)
from intervention.services import ServiceError
from intervention.services import reflections as reflection_service

from .conftest import csrf_token
from .helpers import (
    REQUIRED_PROMPTS,
    answer,
    events,
    post_form,
    signed_in,
    submit_answer,
    text_of,
)

MINIMUM = {**REQUIRED_PROMPTS, "what-i-want-from-this": 50, "behind-the-mask": 50}


def submitted(enrollment, key: str, marker: str, hours_ago: float = 1):
    """His answer to the prompt, submitted `hours_ago` hours ago."""
    attempt = submit_answer(enrollment, key, answer(marker, MINIMUM[key]))
    attempt.submitted_at = utcnow() - timedelta(hours=hours_ago)
    db.session.flush()
    return attempt


def review_url(attempt, **args) -> str:
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return f"/facilitator/reviews/{attempt.id}" + (f"?{query}" if query else "")


def save_review(client, url: str, outcome: str, comment: str = "", **rubric):
    return post_form(client, url, {"outcome": outcome, "comment": comment, **rubric})


def reviews_of(attempt) -> list[tuple]:
    return db.session.execute(
        sa.select(Review.reviewer_id, Review.outcome, Review.comment).where(
            Review.attempt_id == attempt.id
        )
    ).all()


# --- whose queue ---------------------------------------------------------------------------------


@pytest.fixture
def case(make_user, make_enrollment):
    """A man in a cohort with one facilitator, and one answer waiting for review."""
    facilitator = make_user(Role.FACILITATOR, name="Dana Whitfield")
    enrollment = make_enrollment(cohort=None)
    enrollment.cohort.facilitators = [facilitator]
    attempt = submitted(enrollment, "what-happened", "Qzwaiting", hours_ago=50)
    db.session.commit()
    return enrollment, facilitator, attempt


def test_the_queue_rule_facilitator_assigned_reviewer_other_facilitator_admin(app, case, make_user):
    enrollment, facilitator, attempt = case
    cohort = enrollment.cohort
    reviewer = make_user(Role.FACILITATOR, name="Ray Reviewer")
    stranger = make_user(Role.FACILITATOR, name="Fran Elsewhere")
    admin = make_user(Role.ADMIN)
    clerk = make_user(Role.CLERK, court=enrollment.court)
    db.session.commit()
    name = enrollment.participant.full_name

    def queue_of(user) -> str:
        return text_of(signed_in(app, user).get("/facilitator/reviews"))

    # No reviewer set: the cohort's facilitators and admins.
    assert [can_review(u, cohort) for u in (facilitator, reviewer, stranger, admin, clerk)] == [
        True,
        False,
        False,
        True,
        False,
    ]
    assert name in queue_of(facilitator)
    assert name in queue_of(admin)
    assert name not in queue_of(reviewer)
    assert "Nothing is waiting for review." in queue_of(stranger)

    # Handed to one facilitator: he and admins; the cohort's own facilitator no longer.
    reflection_service.assign_reviewer(cohort, reviewer, admin, "Dana is on leave.")
    db.session.commit()
    assert [can_review(u, cohort) for u in (facilitator, reviewer, stranger, admin, clerk)] == [
        False,
        True,
        False,
        True,
        False,
    ]
    assert name in queue_of(reviewer)
    assert name in queue_of(admin)
    assert name not in queue_of(facilitator)
    assert name not in queue_of(stranger)

    # The SQL rule of the queue and the access rule agree, for every user and cohort.
    for user in (facilitator, reviewer, stranger, admin, clerk):
        listed = set(db.session.scalars(reflection_service.reviewed_cohorts(user)))
        everyone = set(db.session.scalars(sa.select(Cohort)))
        assert listed == {c for c in everyone if can_review(user, c)}, user


def test_the_assigned_reviewer_reads_the_answer_and_progress_but_not_the_cohorts_pages(
    app, case, make_user
):
    enrollment, facilitator, attempt = case
    reviewer = make_user(Role.FACILITATOR, name="Ray Reviewer")
    admin = make_user(Role.ADMIN)
    reflection_service.assign_reviewer(enrollment.cohort, reviewer, admin, "Leave.")
    db.session.commit()

    ray = signed_in(app, reviewer)
    page = text_of(ray.get(review_url(attempt)))
    assert "Qzwaiting" in page
    assert "Sessions credited" in page and "Reflections accepted" in page
    assert "0/4" in page  # reflections accepted of those required
    assert "reflections to write and submit" in page  # the unmet summary
    assert "Save review" in page
    assert "Open his record" not in page
    assert can_read_reflection(reviewer, attempt.reflection)
    for url in (
        f"/facilitator/cohorts/{enrollment.cohort_id}",
        f"/facilitator/enrollments/{enrollment.id}",
        f"/facilitator/sessions/{enrollment.cohort.sessions[0].id}/attendance",
        f"/facilitator/enrollments/{enrollment.id}/record.csv",
    ):
        assert ray.get(url).status_code == 404, url

    # The cohort's own facilitator still reads his men's answers, but the review is Ray's.
    dana = signed_in(app, facilitator)
    page = text_of(dana.get(review_url(attempt)))
    assert "Qzwaiting" in page
    assert "go to Ray Reviewer. You can read this answer but not review it." in page
    assert "Save review" not in page
    token = csrf_token(dana, review_url(attempt))
    response = dana.post(
        review_url(attempt),
        data={"csrf_token": token, "outcome": "returned", "comment": "Written before the move."},
    )
    assert response.status_code == 403
    page = text_of(response)
    assert "now go to Ray Reviewer. Your review was not saved." in page
    assert "Written before the move." in page  # shown back, so nothing he wrote is lost
    assert reviews_of(attempt) == []


def test_the_dashboard_counts_what_waits_by_the_same_rule(app, case, make_user, make_enrollment):
    enrollment, facilitator, attempt = case
    other = make_enrollment(cohort=enrollment.cohort)
    submitted(other, "what-happened", "Qzother")
    submitted(other, "my-excuses", "Qzother2")
    reviewer = make_user(Role.FACILITATOR, name="Ray Reviewer")
    admin = make_user(Role.ADMIN)
    db.session.commit()

    page = text_of(signed_in(app, facilitator).get("/facilitator/"))
    assert "3 reflection(s) waiting for review" in page
    assert re.search(r"To review</a></dt><dd>3</dd>", page)

    reflection_service.assign_reviewer(enrollment.cohort, reviewer, admin, "Leave.")
    db.session.commit()
    page = text_of(signed_in(app, facilitator).get("/facilitator/"))
    assert "0 reflection(s) waiting for review" in page
    assert "Reviews go to Ray Reviewer" in page
    page = text_of(signed_in(app, reviewer).get("/facilitator/"))
    assert "3 reflection(s) waiting for review" in page
    assert "Reviews handed to you" in page
    assert f"{enrollment.cohort.name}</a>: 3 waiting" in page
    assert "You are not facilitating any cohort yet." in page


# --- filters and counts --------------------------------------------------------------------------


def test_the_queue_filters_by_cohort_session_and_state_and_counts_each_state(
    app, make_user, make_cohort, make_enrollment
):
    dana = make_user(Role.FACILITATOR, name="Dana Whitfield")
    monday = make_cohort(facilitator=dana)
    monday.name = "Monday group"
    thursday = make_cohort(facilitator=dana)
    thursday.name = "Thursday group"
    elsewhere = make_enrollment()  # another facilitator's cohort
    men = {
        name: make_enrollment(participant=make_user(Role.PARTICIPANT, name=name), cohort=cohort)
        for name, cohort in [
            ("Adam Monday", monday),
            ("Bill Monday", monday),
            ("Carl Thursday", thursday),
        ]
    }
    submitted(men["Bill Monday"], "what-happened", "Qzbill1", hours_ago=30)
    submitted(men["Adam Monday"], "what-happened", "Qzadam1", hours_ago=72)
    submitted(men["Adam Monday"], "my-excuses", "Qzadam3", hours_ago=2)
    submitted(men["Carl Thursday"], "what-happened", "Qzcarl1", hours_ago=5)
    returned = submitted(men["Bill Monday"], "my-excuses", "Qzbill3", hours_ago=10)
    reflection_service.review(returned, ReviewOutcome.RETURNED, "Say more.", dana)
    accepted = submitted(men["Carl Thursday"], "my-excuses", "Qzcarl3", hours_ago=8)
    reflection_service.review(accepted, ReviewOutcome.ACCEPTED, "", dana)
    submitted(elsewhere, "what-happened", "Qzelsewhere")
    db.session.commit()
    client = signed_in(app, dana)

    def queue(**args) -> str:
        return text_of(client.get("/facilitator/reviews", query_string=args))

    def names(page: str) -> list[str]:
        return re.findall(r'<p class="queue-who"><strong>([^<]+)</strong>', page)

    page = queue()
    assert names(page) == ["Adam Monday", "Bill Monday", "Carl Thursday", "Adam Monday"]
    assert "4 waiting, oldest first." in page
    assert re.search(r"Waiting <span class=\"count\">4</span>", page)
    assert re.search(r"Returned for revision <span class=\"count\">1</span>", page)
    assert re.search(r"Accepted <span class=\"count\">1</span>", page)
    assert "waiting 3 days" in page and "waiting 2 hours" in page
    assert elsewhere.participant.full_name not in page

    page = queue(cohort=monday.id)
    assert names(page) == ["Adam Monday", "Bill Monday", "Adam Monday"]
    assert re.search(r"Accepted <span class=\"count\">0</span>", page)
    assert names(queue(module=3)) == ["Adam Monday"]
    assert names(queue(cohort=thursday.id, module=1)) == ["Carl Thursday"]

    page = queue(state="returned")
    assert names(page) == ["Bill Monday"]
    assert "Returned for revision by Dana Whitfield" in page
    page = queue(state="accepted")
    assert names(page) == ["Carl Thursday"]
    assert "Accepted by Dana Whitfield" in page
    assert "No reflection is returned for revision." in queue(state="returned", cohort=thursday.id)

    # A filter he may not use is ignored; it never widens the queue to another man's cohort.
    page = queue(cohort=elsewhere.cohort_id, module=99, state="nonsense")
    assert elsewhere.participant.full_name not in page
    assert "4 waiting, oldest first." in page
    assert queue(cohort="abc").count("queue-who") == 4

    # The queue's links keep the filters, so the review page can go on within them.
    page = queue(cohort=monday.id, module=1)
    assert f"?cohort={monday.id}&amp;module=1" in page


# --- the review page: rubric, the next answer, returning -----------------------------------------


def test_rubric_scores_are_optional_validated_stored_and_shown(app, case):
    enrollment, facilitator, attempt = case
    client = signed_in(app, facilitator)
    url = review_url(attempt)
    page = text_of(client.get(url))
    assert "Honesty" in page and "Understanding of harm" in page
    assert '<option value="2">Open and specific</option>' in page
    assert '<option selected value="">Not scored</option>' in page

    response = save_review(client, url, "accepted", "", rubric_0="7")
    assert response.status_code == 422
    assert "Not a valid choice" in text_of(response)
    assert reviews_of(attempt) == []

    response = save_review(client, url, "accepted", "Honest work.", rubric_0="2", rubric_1="")
    assert response.status_code == 302
    db.session.expire_all()
    review = attempt.review
    assert review.rubric_scores == {"honesty": 2}
    assert reflection_service.rubric_lines(review) == [("Honesty", "Open and specific")]
    page = text_of(client.get(url))
    assert "<dt>Honesty</dt><dd>Open and specific</dd>" in page
    assert "Understanding of harm" not in page  # not scored, not shown
    # The lowest level is a score too, and a stored score off the scale is not shown.
    review.rubric_scores = {"honesty": 0, "harm": 3}
    assert reflection_service.rubric_lines(review) == [("Honesty", "Avoids the question")]

    [event] = events("reflection.review")
    assert event.details["rubric"] == {"honesty": 2}


def test_the_rubric_service_refuses_what_the_program_does_not_define(case):
    enrollment, facilitator, attempt = case
    criteria = reflection_service.rubric_of(attempt)
    assert [c["id"] for c in criteria] == ["honesty", "harm"]
    check = reflection_service.check_rubric
    assert check(criteria, {"honesty": 0, "harm": None}) == {"honesty": 0}
    for bad, message in [
        ({"kindness": 1}, "not a criterion"),
        ({"honesty": 3}, "Choose one of the levels of “Honesty”"),
        ({"honesty": -1}, "Choose one of the levels"),
        ({"honesty": "2"}, "Choose one of the levels"),
        ({"honesty": True}, "Choose one of the levels"),
    ]:
        with pytest.raises(ServiceError, match=message):
            reflection_service.review(attempt, ReviewOutcome.ACCEPTED, "", facilitator, bad)
    assert attempt.review is None
    assert attempt.reflection.state is ReflectionState.SUBMITTED


def test_a_program_without_a_rubric_asks_for_no_scores(app, case):
    enrollment, facilitator, attempt = case
    enrollment.cohort.version.rubric = []  # rolled back after the test
    db.session.commit()
    client = signed_in(app, facilitator)
    page = text_of(client.get(review_url(attempt)))
    assert "Rubric" not in page
    with pytest.raises(ServiceError, match="not a criterion"):
        reflection_service.review(attempt, ReviewOutcome.ACCEPTED, "", facilitator, {"honesty": 1})


def test_after_saving_the_next_waiting_answer_opens_within_the_same_filters(
    app, case, make_enrollment
):
    enrollment, facilitator, first = case  # waiting 50 hours
    cohort = enrollment.cohort
    other = make_enrollment(cohort=cohort)
    second = submitted(other, "what-happened", "Qzsecond", hours_ago=40)
    session3 = submitted(other, "my-excuses", "Qzsession3", hours_ago=30)
    third = submitted(enrollment, "what-i-want-from-this", "Qzthird", hours_ago=20)
    db.session.commit()
    client = signed_in(app, facilitator)

    # Session 1 only: first, second, third, skipping the session 3 answer.
    response = save_review(client, review_url(first, cohort=cohort.id, module=1), "accepted")
    assert response.headers["Location"] == review_url(second, cohort=cohort.id, module=1)
    response = save_review(client, response.headers["Location"], "accepted")
    assert response.headers["Location"] == review_url(third, cohort=cohort.id, module=1)
    response = save_review(client, response.headers["Location"], "returned", "Name one thing.")
    assert response.headers["Location"] == f"/facilitator/reviews?cohort={cohort.id}&module=1"
    page = text_of(client.get(response.headers["Location"]))
    assert "Nothing left to review." in page
    assert "Nothing is waiting for review." in page

    # Without filters the session 3 answer is still there; then nothing is left at all.
    response = save_review(client, review_url(session3), "accepted")
    assert response.headers["Location"] == "/facilitator/reviews"
    assert "Nothing left to review." in text_of(client.get("/facilitator/reviews"))


def test_a_skipped_answer_comes_round_again(app, case, make_enrollment):
    enrollment, facilitator, first = case
    other = make_enrollment(cohort=enrollment.cohort)
    second = submitted(other, "what-happened", "Qzsecond", hours_ago=40)
    third = submitted(other, "my-excuses", "Qzthird", hours_ago=30)
    db.session.commit()
    client = signed_in(app, facilitator)

    page = text_of(client.get(review_url(first)))
    assert f'href="{review_url(second)}">Skip to the next waiting</a>' in page
    response = save_review(client, review_url(second), "accepted")
    assert response.headers["Location"] == review_url(third)
    response = save_review(client, review_url(third), "accepted")
    assert response.headers["Location"] == review_url(first)  # the one he skipped


def test_returning_without_a_comment_is_refused_and_changes_nothing(app, case):
    enrollment, facilitator, attempt = case
    client = signed_in(app, facilitator)
    response = save_review(client, review_url(attempt), "returned", "   ")
    assert response.status_code == 422
    assert "Write a comment so he knows what to change." in text_of(response)
    response = save_review(client, review_url(attempt), "", "")
    assert response.status_code == 422
    assert "Choose accept or return." in text_of(response)
    db.session.expire_all()
    assert attempt.review is None
    assert attempt.reflection.state is ReflectionState.SUBMITTED
    with pytest.raises(ServiceError, match="Write a comment"):
        reflection_service.review(attempt, ReviewOutcome.RETURNED, "", facilitator)


# --- two reviewers at once -----------------------------------------------------------------------


def test_the_second_reviewer_is_told_and_keeps_what_he_wrote(app, case, make_user):
    enrollment, dana, attempt = case
    sam = make_user(Role.FACILITATOR, name="Sam Second")
    enrollment.cohort.facilitators.append(sam)
    db.session.commit()
    url = review_url(attempt)

    first, second = signed_in(app, dana), signed_in(app, sam)
    first_token, second_token = csrf_token(first, url), csrf_token(second, url)  # both open it
    response = first.post(
        url,
        data={
            "csrf_token": first_token,
            "outcome": "accepted",
            "comment": "Clear and honest.",
            "rubric_0": "2",
        },
    )
    assert response.status_code == 302
    comment = "You skip over what you were thinking. Tell me about the drive there."
    response = second.post(
        url, data={"csrf_token": second_token, "outcome": "returned", "comment": comment}
    )
    assert response.status_code == 409
    page = text_of(response)
    assert "Dana Whitfield reviewed this answer first (accepted)." in page
    assert "The review that was saved first" in page
    assert "Accepted</strong> by Dana Whitfield" in page
    assert "Clear and honest." in page
    assert "<dt>Honesty</dt><dd>Open and specific</dd>" in page
    assert "Your review was not saved" in page
    assert f'readonly rows="5">{comment}</textarea>' in page
    assert "You chose: returned for revision." in page
    assert "Save review" not in page

    db.session.expire_all()
    assert reviews_of(attempt) == [(dana.id, ReviewOutcome.ACCEPTED, "Clear and honest.")]
    assert attempt.reflection.state is ReflectionState.ACCEPTED
    # His page afterwards shows the review that stands.
    assert "Accepted</strong> by Dana Whitfield" in text_of(second.get(url))


def test_a_double_click_on_save_saves_one_review(app, case):
    enrollment, facilitator, attempt = case
    client = signed_in(app, facilitator)
    url = review_url(attempt)
    token = csrf_token(client, url)
    data = {"csrf_token": token, "outcome": "returned", "comment": "Say more about the day."}
    assert client.post(url, data=data).status_code == 302
    response = client.post(url, data=data)
    assert response.status_code == 302  # the same review again: already saved, not an error
    db.session.expire_all()
    assert len(reviews_of(attempt)) == 1


# --- handing a cohort's reviews to one facilitator -----------------------------------------------


def test_assign_reviewer_hands_reviews_over_and_back_with_an_audit_event(case, make_user):
    enrollment, facilitator, attempt = case
    cohort = enrollment.cohort
    ray = make_user(Role.FACILITATOR, name="Ray Reviewer")
    admin = make_user(Role.ADMIN)

    with pytest.raises(ServiceError, match="Give the reason"):
        reflection_service.assign_reviewer(cohort, ray, admin, "  ")
    disabled = make_user(Role.FACILITATOR)
    disabled.active = False
    for wrong in (admin, make_user(Role.CLERK, court=enrollment.court), disabled):
        with pytest.raises(ServiceError, match="only go to an active facilitator"):
            reflection_service.assign_reviewer(cohort, wrong, admin, "Try.")
    with pytest.raises(ServiceError, match="already go to the cohort's facilitators"):
        reflection_service.assign_reviewer(cohort, None, admin, "Nothing to do.")

    reflection_service.assign_reviewer(cohort, ray, admin, " Dana is on leave. ")
    assert cohort.reviewer is ray
    with pytest.raises(ServiceError, match="already go to Ray Reviewer"):
        reflection_service.assign_reviewer(cohort, ray, admin, "Again.")
    reflection_service.assign_reviewer(cohort, None, admin, "Dana is back.")
    assert cohort.reviewer_id is None

    assigned = events("cohort.assign_reviewer")
    assert [(e.actor_id, e.object_type, e.object_id) for e in assigned] == [
        (admin.id, "cohort", cohort.id)
    ] * 2
    assert [e.details for e in assigned] == [
        {"from": None, "to": ray.id, "reason": "Dana is on leave."},
        {"from": ray.id, "to": None, "reason": "Dana is back."},
    ]


def test_the_admin_cohort_page_reassigns_reviews(app, case, make_user):
    enrollment, dana, attempt = case
    cohort = enrollment.cohort
    ray = make_user(Role.FACILITATOR, name="Ray Reviewer")
    admin = make_user(Role.ADMIN)
    db.session.commit()
    director = signed_in(app, admin)
    url = f"/admin/cohorts/{cohort.id}"

    page = text_of(director.get(url))
    assert "Reviews go to" in page
    assert '<option selected value="">The cohort&#39;s facilitators</option>' in page
    assert f'<option value="{ray.email}">Ray Reviewer ({ray.email})</option>' in page
    token = re.search(r'name="reviews-csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    # Without the form's token: refused, nothing changes.
    response = director.post(url, data={"reviews-reviewer": ray.email, "reviews-reason": "Leave."})
    assert response.status_code == 400
    assert "Your form expired" in text_of(response)
    db.session.expire_all()
    assert cohort.reviewer_id is None

    response = director.post(
        url, data={"reviews-csrf_token": token, "reviews-reviewer": ray.email, "reviews-reason": ""}
    )
    assert "Give the reason." in text_of(response)
    response = director.post(
        url,
        data={
            "reviews-csrf_token": token,
            "reviews-reviewer": "nobody@test.example",
            "reviews-reason": "Leave.",
        },
    )
    assert "Not a valid choice" in text_of(response)

    response = director.post(
        url,
        data={
            "reviews-csrf_token": token,
            "reviews-reviewer": ray.email,
            "reviews-reason": "Dana is on leave.",
        },
    )
    assert response.status_code == 302
    page = text_of(director.get(response.headers["Location"]))
    assert f"Reviews of {cohort.name} now go to Ray Reviewer." in page
    assert f'<option selected value="{ray.email}">' in page
    db.session.expire_all()
    assert cohort.reviewer_id == ray.id
    event = events("cohort.assign_reviewer")[0]
    assert event.details == {"from": None, "to": ray.id, "reason": "Dana is on leave."}

    name = enrollment.participant.full_name
    assert name not in text_of(signed_in(app, dana).get("/facilitator/reviews"))
    assert name in text_of(signed_in(app, ray).get("/facilitator/reviews"))
    assert name in text_of(director.get("/facilitator/reviews"))

    # And back to the cohort's facilitators.
    response = director.post(
        url,
        data={"reviews-csrf_token": token, "reviews-reviewer": "", "reviews-reason": "Back."},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert cohort.reviewer_id is None
    assert name in text_of(signed_in(app, dana).get("/facilitator/reviews"))


# --- the whole state machine ---------------------------------------------------------------------


def test_the_review_state_machine(case, make_user):
    """draft -> submitted -> returned -> (draft kept) -> submitted -> accepted, and every
    step that is not allowed from where the answer stands is refused."""
    enrollment, dana, first = case
    man = enrollment.participant
    reflection = first.reflection
    assert reflection.state is ReflectionState.SUBMITTED

    # Waiting: he cannot change it; only the latest attempt can be reviewed.
    with pytest.raises(ServiceError, match="waiting for review"):
        reflection_service.save_draft(reflection, "more", reflection.draft_revision, man)
    reflection_service.review(first, ReviewOutcome.RETURNED, "Say what you chose.", dana)
    assert reflection.state is ReflectionState.RETURNED

    # Returned: a second review of the same attempt is refused and changes nothing.
    with pytest.raises(reflection_service.AlreadyReviewed):
        reflection_service.review(first, ReviewOutcome.ACCEPTED, "", make_user(Role.ADMIN))
    assert first.review.outcome is ReviewOutcome.RETURNED

    # He revises (the draft is kept) and submits a new attempt; the first stays as it was.
    text = first.text
    reflection_service.save_draft(reflection, text + " I chose it.", reflection.draft_revision, man)
    assert reflection.state is ReflectionState.RETURNED
    second = reflection_service.submit(
        reflection, text + " I chose it.", reflection.draft_revision, man
    )
    assert (second.number, reflection.state) == (2, ReflectionState.SUBMITTED)
    assert first.text == text
    with pytest.raises(reflection_service.AlreadyReviewed):
        reflection_service.review(first, ReviewOutcome.ACCEPTED, "", dana)

    reflection_service.review(second, ReviewOutcome.ACCEPTED, "Thank you.", dana)
    assert reflection.state is ReflectionState.ACCEPTED

    # Accepted: final.
    with pytest.raises(ServiceError, match="accepted"):
        reflection_service.save_draft(reflection, "x", reflection.draft_revision, man)
    with pytest.raises(ServiceError, match="accepted"):
        reflection_service.submit(reflection, text + " again", reflection.draft_revision, man)
    with pytest.raises(reflection_service.AlreadyReviewed):
        reflection_service.review(second, ReviewOutcome.RETURNED, "No.", dana)
    assert [(a.number, a.review.outcome) for a in reflection.attempts] == [
        (1, ReviewOutcome.RETURNED),
        (2, ReviewOutcome.ACCEPTED),
    ]
    actions = db.session.scalars(
        sa.select(AuditEvent.action)
        .where(AuditEvent.object_type == "reflection", AuditEvent.object_id == reflection.id)
        .order_by(AuditEvent.id)
    ).all()
    assert actions == [
        "reflection.submit",
        "reflection.review",
        "reflection.submit",
        "reflection.review",
    ]


def test_only_staff_who_review_see_the_queue_pages_of_a_cohort(app, case, make_user):
    enrollment, facilitator, attempt = case
    stranger = signed_in(app, make_user(Role.FACILITATOR))
    assert stranger.get(review_url(attempt)).status_code == 404
    token = csrf_token(stranger, "/facilitator/")
    response = stranger.post(
        review_url(attempt), data={"csrf_token": token, "outcome": "accepted", "comment": ""}
    )
    assert response.status_code == 404
    assert reviews_of(attempt) == []


def test_reviewed_answers_are_listed_newest_review_first_each_once(make_user, make_enrollment):
    dana = make_user(Role.FACILITATOR, name="Dana Whitfield")
    first = make_enrollment(participant=make_user(Role.PARTICIPANT, name="Early Reviewed"))
    cohort = first.cohort
    cohort.facilitators = [dana]
    second = make_enrollment(
        cohort=cohort, participant=make_user(Role.PARTICIPANT, name="Late Reviewed")
    )
    early = submitted(first, "what-happened", "Qzearly", hours_ago=5)
    late = submitted(second, "what-happened", "Qzlate", hours_ago=30)  # submitted earlier
    for attempt, hours_ago in ((early, 4), (late, 1)):
        review = reflection_service.review(attempt, ReviewOutcome.ACCEPTED, "", dana)
        review.created_at = utcnow() - timedelta(hours=hours_ago)
    db.session.flush()
    listed = db.session.scalars(
        reflection_service.queue([cohort.id], ReflectionState.ACCEPTED)
    ).all()
    assert listed == [late, early]
