"""The business rules, called directly: completion, attendance, reflections, certificates and
the audit chain."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from intervention.extensions import db
from intervention.models import (
    AttendanceStatus,
    AuditEvent,
    CertificateStatus,
    EnrollmentState,
    ReflectionState,
    ReviewOutcome,
    Role,
)
from intervention.services import ServiceError, audit, completion, enrollments
from intervention.services import attendance as attendance_service
from intervention.services import certificates as certificate_service
from intervention.services import completion_text as words
from intervention.services import reflections as reflection_service

from .helpers import (
    accept_all_required,
    answer,
    complete_case,
    events,
    forge_event,
    mark,
    mark_all,
    prompts_by_key,
    raw_sql,
    today,
)

NO_GAP_RULE = {"max_gap_days": None}  # the 21-day rule would trip on sessions weeks ago


# --- completion engine ----------------------------------------------------------------------------


class TestCompletion:
    def test_a_fresh_case_lists_everything_he_owes_in_plain_words(self, make_enrollment):
        enrollment = make_enrollment(overrides=NO_GAP_RULE)
        result = completion.evaluate(enrollment)
        assert not result.complete
        assert result.sessions_required == 3
        assert result.sessions_credited == 0
        assert result.reflections_required == 4  # optional prompts are not owed
        assert words.unmet(result) == [
            "3 more sessions to attend (0 of 3 credited).",
            "4 reflections to write and submit: sessions 1, 2 and 3.",
        ]

    def test_reflection_states_are_named_in_unmet(self, make_enrollment):
        enrollment = make_enrollment(overrides=NO_GAP_RULE)
        facilitator = enrollment.cohort.facilitators[0]
        prompts = prompts_by_key(enrollment)
        waiting = reflection_service.reflection_for(enrollment, prompts["what-happened"])
        reflection_service.submit(waiting, answer("W", 80), 0, enrollment.participant)
        returned = reflection_service.reflection_for(enrollment, prompts["my-excuses"])
        attempt = reflection_service.submit(returned, answer("R", 100), 0, enrollment.participant)
        reflection_service.review(attempt, ReviewOutcome.RETURNED, "Say more.", facilitator)
        unmet = " ".join(words.unmet(completion.evaluate(enrollment)))
        assert "1 reflection to revise and submit again: session 3." in unmet
        assert "2 reflections to write and submit: sessions 2 and 3." in unmet
        assert "1 reflection waiting for review: session 1." in unmet
        # Most urgent first: what he must fix comes before what he must write.
        assert unmet.index("revise") < unmet.index("to write") < unmet.index("waiting")

    def test_all_sessions_and_reflections_make_it_complete(self, make_enrollment):
        enrollment = make_enrollment()
        complete_case(enrollment)
        result = completion.evaluate(enrollment)
        assert result.complete and result.possible
        assert words.unmet(result) == [] and words.violations(result) == []
        assert (result.sessions_credited, result.reflections_accepted) == (3, 4)
        assert result.minutes_credited == 360
        assert result.hours_credited == 6.0

    def test_late_counts_when_the_policy_says_so(self, make_enrollment):
        enrollment = make_enrollment(overrides=NO_GAP_RULE)
        mark(enrollment, 1, AttendanceStatus.LATE, 100)
        result = completion.evaluate(enrollment)
        assert result.sessions_credited == 1
        assert result.minutes_credited == 100
        assert result.lines[0].credited

    def test_late_does_not_count_when_the_court_says_so(self, make_enrollment):
        enrollment = make_enrollment(overrides={**NO_GAP_RULE, "late_counts_as_attended": False})
        mark(enrollment, 1, AttendanceStatus.LATE, 100)
        result = completion.evaluate(enrollment)
        assert result.sessions_credited == 0
        assert not result.lines[0].credited
        # Not attending means it is missed: an absence he must make up.
        assert result.absences == 1
        assert "2 more sessions to attend (0 of 3 credited)." in words.unmet(result)
        assert "1 missed session to make up: session 1." in words.unmet(result)

    def test_one_absence_is_allowed_but_must_be_made_up(self, make_enrollment):
        enrollment = make_enrollment(overrides=NO_GAP_RULE)
        mark(enrollment, 1, AttendanceStatus.ABSENT)
        mark(enrollment, 2, AttendanceStatus.PRESENT)
        mark(enrollment, 3, AttendanceStatus.PRESENT)
        result = completion.evaluate(enrollment)
        assert result.absences == 1
        assert words.violations(result) == []
        assert result.possible  # a make-up is still open to him
        assert "1 missed session to make up: session 1." in words.unmet(result)
        assert not result.complete

    def test_two_absences_in_a_row_break_the_policy(self, make_enrollment):
        enrollment = make_enrollment(overrides=NO_GAP_RULE)
        mark(enrollment, 1, AttendanceStatus.ABSENT)
        mark(enrollment, 2, AttendanceStatus.LEFT_EARLY, 30)  # leaving early is an absence
        result = completion.evaluate(enrollment)
        assert result.absences == 2
        assert words.violations(result) == [
            "2 absences; the limit is 1.",
            "2 absences in a row; the limit is 1.",
        ]
        assert not result.possible
        assert not result.complete
        assert "2 absences in a row; the limit is 1." in words.unmet(result)

    def test_two_absences_apart_break_only_the_total(self, make_enrollment):
        enrollment = make_enrollment(overrides={**NO_GAP_RULE, "max_absences": 1})
        mark(enrollment, 1, AttendanceStatus.ABSENT)
        mark(enrollment, 2, AttendanceStatus.PRESENT)
        mark(enrollment, 3, AttendanceStatus.ABSENT)
        result = completion.evaluate(enrollment)
        assert words.violations(result) == ["2 absences; the limit is 1."]
        assert not result.possible

    def test_a_long_gap_without_attendance_is_a_violation(self, make_enrollment):
        enrollment = make_enrollment()  # program rule: 21 days
        mark(enrollment, 1, AttendanceStatus.PRESENT)
        # Marked, held sessions without attendance (excused: not absences) let the gap run on.
        mark(enrollment, 2, AttendanceStatus.EXCUSED, 0)
        mark(enrollment, 3, AttendanceStatus.EXCUSED, 0)
        session_day = enrollment.cohort.sessions[0].local_date
        assert completion.evaluate(enrollment, today=session_day + timedelta(days=21)).possible
        late = completion.evaluate(enrollment, today=session_day + timedelta(days=22))
        assert words.violations(late) == ["22 days without attendance; the limit is 21."]
        assert not late.possible

    def test_sessions_before_he_started_never_count(self, make_enrollment):
        enrollment = make_enrollment(overrides=NO_GAP_RULE)
        mark(enrollment, 1, AttendanceStatus.ABSENT)
        mark(enrollment, 2, AttendanceStatus.PRESENT)
        mark(enrollment, 3, AttendanceStatus.PRESENT)
        # The court moves his start to the second session's day.
        enrollment.starts_on = enrollment.cohort.sessions[1].local_date
        result = completion.evaluate(enrollment)
        assert [line.counts for line in result.lines] == [False, True, True]
        assert result.absences == 0
        assert result.sessions_credited == 2
        assert "missed session" not in " ".join(words.unmet(result))

    def test_attendance_before_he_started_is_refused(self, make_cohort, make_enrollment):
        cohort = make_cohort()
        enrollment = make_enrollment(cohort=cohort, starts_on=cohort.sessions[1].local_date)
        with pytest.raises(ServiceError, match="was not enrolled yet on"):
            mark(enrollment, 1, AttendanceStatus.PRESENT)

    def test_court_ordered_overrides_change_what_he_owes(self, make_enrollment):
        enrollment = make_enrollment(overrides={**NO_GAP_RULE, "sessions_required": 2})
        facilitator = enrollment.cohort.facilitators[0]
        mark(enrollment, 1, AttendanceStatus.PRESENT)
        mark(enrollment, 2, AttendanceStatus.PRESENT)
        accept_all_required(enrollment, facilitator)
        result = completion.evaluate(enrollment)
        assert result.sessions_required == 2
        assert result.complete, words.unmet(result)

    def test_one_session_short_of_a_court_order_beyond_his_cohort_is_not_complete(
        self, make_enrollment
    ):
        # The court ordered four sessions; his cohort holds three, and he attended all three
        # with every reflection accepted. One short is not complete: nothing to issue.
        enrollment = make_enrollment(overrides={**NO_GAP_RULE, "sessions_required": 4})
        facilitator = enrollment.cohort.facilitators[0]
        for number in (1, 2, 3):
            mark(enrollment, number, AttendanceStatus.PRESENT)
        accept_all_required(enrollment, facilitator)
        result = completion.evaluate(enrollment)
        assert (result.sessions_credited, result.sessions_required) == (3, 4)
        assert not result.complete
        assert not result.possible
        assert result.completed_on is None
        with pytest.raises(ServiceError):
            certificate_service.issue(enrollment, facilitator)

    @pytest.mark.parametrize(
        ("weeks_in", "days_left", "expected"),
        [
            (2, 0, "The completion deadline is {day}, today; 1 session still to be credited."),
            (1, 3, "The completion deadline is {day}, in 3 days; 2 sessions still to be credited."),
        ],
    )
    def test_a_near_deadline_is_a_risk_that_says_the_day_and_what_is_owed(
        self, make_cohort, make_enrollment, weeks_in, days_left, expected
    ):
        from intervention.i18n import format_date

        start = today() - timedelta(days=7 * weeks_in - 1)  # the next session is tomorrow
        enrollment = make_enrollment(cohort=make_cohort(start=start), overrides=NO_GAP_RULE)
        # Counted in the cohort's calendar, as the engine counts: between midnight UTC and
        # midnight in Los Angeles the two dates differ.
        local_today = completion.local_today(enrollment)
        enrollment.completion_deadline = local_today + timedelta(days=days_left)
        for number in range(1, weeks_in + 1):
            mark(enrollment, number, AttendanceStatus.PRESENT)
        result = completion.evaluate(enrollment)
        day = format_date(enrollment.completion_deadline)
        assert words.risks(result) == [expected.format(day=day)]

    def test_what_can_only_be_made_up_elsewhere_names_the_choice(self, make_enrollment):
        # Two of three sessions required, no make-up rule: absent from 1 and 2, present at 3.
        # Nothing is left in his cohort; one more, either of the two he missed, elsewhere.
        enrollment = make_enrollment(
            overrides={
                **NO_GAP_RULE,
                "sessions_required": 2,
                "makeups_required": False,
                "max_absences": 3,
                "max_consecutive_absences": 3,
            }
        )
        mark(enrollment, 1, AttendanceStatus.ABSENT)
        mark(enrollment, 2, AttendanceStatus.ABSENT)
        mark(enrollment, 3, AttendanceStatus.PRESENT)
        result = completion.evaluate(enrollment)
        assert result.possible and not result.complete
        assert words.unmet(result)[0] == (
            "1 more session to make up in another group: any of sessions 1 and 2."
        )

    def test_a_held_session_not_yet_marked_leaves_completion_possible(
        self, make_cohort, make_enrollment
    ):
        # Session 1 was yesterday and nobody has taken attendance yet; 2 and 3 are ahead.
        enrollment = make_enrollment(cohort=make_cohort(start=today() - timedelta(days=1)))
        result = completion.evaluate(enrollment)
        assert result.possible
        assert words.violations(result) == []

    def test_more_required_sessions_than_he_can_reach_is_impossible(
        self, make_cohort, make_enrollment
    ):
        enrollment = make_enrollment(
            cohort=make_cohort(start=today() - timedelta(days=1)),
            overrides={"sessions_required": 4},
        )
        assert not completion.evaluate(enrollment).possible


# --- attendance ---------------------------------------------------------------------------------


class TestAttendance:
    def test_a_session_that_has_not_happened_is_refused(self, make_cohort, make_enrollment):
        enrollment = make_enrollment(cohort=make_cohort(start=today() + timedelta(days=7)))
        with pytest.raises(ServiceError, match="has not happened yet"):
            mark(enrollment, 1, AttendanceStatus.PRESENT)
        assert enrollment.attendance == []

    def test_a_man_from_another_cohort_is_refused(self, make_enrollment):
        ours = make_enrollment()
        theirs = make_enrollment()
        with pytest.raises(ServiceError, match="is not in this session's cohort"):
            attendance_service.mark(
                ours.cohort.sessions[0],
                theirs,
                AttendanceStatus.PRESENT,
                120,
                ours.cohort.facilitators[0],
            )

    def test_minutes_beyond_the_session_are_refused(self, make_enrollment):
        enrollment = make_enrollment()
        with pytest.raises(ServiceError, match="between 0 and 120"):
            mark(enrollment, 1, AttendanceStatus.PRESENT, 121)

    def test_a_closed_case_takes_no_attendance(self, make_user, make_enrollment):
        enrollment = make_enrollment()
        enrollments.transition(
            enrollment, EnrollmentState.WITHDRAWN, make_user(Role.ADMIN), "Moved away."
        )
        with pytest.raises(ServiceError, match="This case is withdrawn; it is closed."):
            mark(enrollment, 1, AttendanceStatus.PRESENT)

    def test_first_mark_holds_the_session_and_is_audited(self, make_enrollment):
        enrollment = make_enrollment()
        session = enrollment.cohort.sessions[0]
        record = mark(enrollment, 1, AttendanceStatus.PRESENT)
        assert session.status.value == "held"
        [change] = record.history
        assert (change.from_status, change.to_status) == (None, AttendanceStatus.PRESENT)
        event = db.session.scalars(
            sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)
        ).one()
        assert event.action == "attendance.mark"
        assert event.details["session_id"] == session.id

    def test_a_change_needs_a_reason_and_keeps_the_earlier_mark(self, make_enrollment):
        enrollment = make_enrollment()
        record = mark(enrollment, 1, AttendanceStatus.ABSENT)
        with pytest.raises(ServiceError, match="was already marked absent; give a reason"):
            mark(enrollment, 1, AttendanceStatus.PRESENT)
        with pytest.raises(ServiceError, match="give a reason"):
            mark(enrollment, 1, AttendanceStatus.PRESENT, reason="   ")
        assert record.status is AttendanceStatus.ABSENT

        mark(enrollment, 1, AttendanceStatus.LATE, 95, reason="He signed in at 6:55 pm.")
        db.session.expire_all()
        assert record.status is AttendanceStatus.LATE
        assert record.minutes_credited == 95
        assert [
            (c.from_status, c.to_status, c.from_minutes, c.to_minutes, c.reason)
            for c in record.history
        ] == [
            (None, AttendanceStatus.ABSENT, None, 0, ""),
            (AttendanceStatus.ABSENT, AttendanceStatus.LATE, 0, 95, "He signed in at 6:55 pm."),
        ]

    def test_saving_the_same_mark_again_needs_no_reason(self, make_enrollment):
        enrollment = make_enrollment()
        record = mark(enrollment, 1, AttendanceStatus.PRESENT)
        mark(enrollment, 1, AttendanceStatus.PRESENT, note="Brought his reading.")
        assert len(record.history) == 1
        assert record.note == "Brought his reading."


# --- reflections --------------------------------------------------------------------------------


@pytest.fixture
def reflection(make_enrollment):
    enrollment = make_enrollment()
    prompt = prompts_by_key(enrollment)["what-happened"]  # at least 80 words
    return reflection_service.reflection_for(enrollment, prompt)


class TestReflections:
    def test_from_draft_to_accepted_through_a_return(self, reflection):
        man = reflection.enrollment.participant
        facilitator = reflection.enrollment.cohort.facilitators[0]
        assert reflection.state is ReflectionState.DRAFT

        reflection_service.save_draft(reflection, "A start", 0, man)
        assert (reflection.state, reflection.draft_text) == (ReflectionState.DRAFT, "A start")
        first_text = answer("First", 80)
        first = reflection_service.submit(reflection, first_text, 1, man)
        assert (first.number, first.word_count) == (1, 80)
        assert reflection.state is ReflectionState.SUBMITTED
        with pytest.raises(ServiceError, match="waiting for review"):
            reflection_service.save_draft(reflection, "sneaky edit", reflection.draft_revision, man)

        reflection_service.review(first, ReviewOutcome.RETURNED, "Say what you chose.", facilitator)
        assert reflection.state is ReflectionState.RETURNED
        assert reflection.draft_text == first_text  # he revises from what he sent

        reflection_service.save_draft(reflection, "Rewriting", reflection.draft_revision, man)
        second = reflection_service.submit(
            reflection, answer("Second", 90), reflection.draft_revision, man
        )
        assert second.number == 2
        assert reflection.state is ReflectionState.SUBMITTED
        reflection_service.review(second, ReviewOutcome.ACCEPTED, "", facilitator)
        assert reflection.state is ReflectionState.ACCEPTED

        db.session.expire_all()
        assert [(a.number, a.text) for a in reflection.attempts] == [
            (1, first_text),
            (2, answer("Second", 90)),
        ]
        assert [a.review.outcome for a in reflection.attempts] == [
            ReviewOutcome.RETURNED,
            ReviewOutcome.ACCEPTED,
        ]
        with pytest.raises(ServiceError, match="accepted. It can no longer be changed"):
            reflection_service.save_draft(reflection, "after", reflection.draft_revision, man)

    def test_the_same_answer_sent_twice_is_one_attempt(self, reflection):
        man = reflection.enrollment.participant
        text = answer("Twice", 80)
        first = reflection_service.submit(reflection, text, 0, man)
        again = reflection_service.submit(reflection, text, 0, man)  # the resent form
        assert again is first
        assert len(reflection.attempts) == 1
        assert len(events("reflection.submit")) == 1

    def test_a_different_answer_while_waiting_is_refused(self, reflection):
        man = reflection.enrollment.participant
        reflection_service.submit(reflection, answer("One", 80), 0, man)
        with pytest.raises(ServiceError, match="waiting for review"):
            reflection_service.submit(reflection, answer("Two", 80), 1, man)
        assert len(reflection.attempts) == 1

    def test_a_save_from_an_older_tab_is_refused_not_merged(self, reflection):
        man = reflection.enrollment.participant
        reflection_service.save_draft(reflection, "Written in the phone tab", 0, man)
        with pytest.raises(reflection_service.StaleDraft, match="another window or device"):
            reflection_service.save_draft(reflection, "Written in the laptop tab", 0, man)
        with pytest.raises(reflection_service.StaleDraft):
            reflection_service.submit(reflection, answer("Laptop", 80), 0, man)
        assert reflection.draft_text == "Written in the phone tab"
        assert reflection.attempts == []

    def test_too_few_words_is_refused_with_the_count(self, reflection):
        man = reflection.enrollment.participant
        with pytest.raises(ServiceError, match="Your answer has 79 words. Write at least 80"):
            reflection_service.submit(reflection, answer("Short", 79), 0, man)
        assert reflection.state is ReflectionState.DRAFT
        assert reflection_service.submit(reflection, answer("Enough", 80), 0, man).number == 1

    @pytest.mark.parametrize(
        ("text", "words"),
        [
            ("I don't know", 3),
            ("a well-known stop-gap", 3),
            ("won’t   can't\n\nshouldn't", 3),
            ("one, two; three... four!", 4),
            ("— - ... !!", 0),
            ("snake_case", 2),
            ("café naïve 2024", 3),
        ],
    )
    def test_words_are_counted_as_a_reader_would(self, text, words):
        assert reflection_service.count_words(text) == words

    def test_returning_needs_a_comment(self, reflection):
        man = reflection.enrollment.participant
        facilitator = reflection.enrollment.cohort.facilitators[0]
        attempt = reflection_service.submit(reflection, answer("Plain", 80), 0, man)
        with pytest.raises(ServiceError, match="Write a comment so he knows what to change."):
            reflection_service.review(attempt, ReviewOutcome.RETURNED, "   ", facilitator)
        assert reflection.state is ReflectionState.SUBMITTED
        assert attempt.review is None

    def test_a_second_review_of_the_same_attempt_changes_nothing(self, reflection, make_user):
        man = reflection.enrollment.participant
        first_reviewer = reflection.enrollment.cohort.facilitators[0]
        attempt = reflection_service.submit(reflection, answer("Once", 80), 0, man)
        reflection_service.review(attempt, ReviewOutcome.ACCEPTED, "Good.", first_reviewer)
        with pytest.raises(reflection_service.AlreadyReviewed, match="reviewed this answer first"):
            reflection_service.review(
                attempt, ReviewOutcome.RETURNED, "More please.", make_user(Role.FACILITATOR)
            )
        assert attempt.review.reviewer is first_reviewer
        assert reflection.state is ReflectionState.ACCEPTED

    def test_a_review_that_lost_the_race_says_who_won(self, reflection, make_user):
        """Two facilitators open the same answer; the other one's review lands first."""
        man = reflection.enrollment.participant
        winner = reflection.enrollment.cohort.facilitators[0]
        attempt = reflection_service.submit(reflection, answer("Race", 80), 0, man)
        db.session.commit()
        assert attempt.review is None  # what the slower reviewer's page was built from
        db.session.execute(
            sa.text(
                "INSERT INTO reviews (attempt_id, reviewer_id, outcome, comment, rubric_scores,"
                " created_at) VALUES (:attempt, :reviewer, 'accepted', '', '{}', :at)"
            ),
            {
                "attempt": attempt.id,
                "reviewer": winner.id,
                "at": datetime.now(UTC).replace(tzinfo=None),
            },
        )
        loser = make_user(Role.FACILITATOR, name="Slow Reviewer")
        with pytest.raises(reflection_service.AlreadyReviewed, match=winner.full_name):
            reflection_service.review(attempt, ReviewOutcome.RETURNED, "More.", loser)
        # Only the losing insert was undone: the session still works and the winner's stands.
        reviews = db.session.execute(sa.text("SELECT reviewer_id, outcome FROM reviews")).all()
        assert [tuple(row) for row in reviews] == [(winner.id, "accepted")]
        assert reflection.state is ReflectionState.SUBMITTED

    def test_only_the_latest_attempt_can_be_reviewed(self, reflection):
        man = reflection.enrollment.participant
        facilitator = reflection.enrollment.cohort.facilitators[0]
        first = reflection_service.submit(reflection, answer("A", 80), 0, man)
        reflection_service.review(first, ReviewOutcome.RETURNED, "Again.", facilitator)
        reflection_service.submit(reflection, answer("B", 80), reflection.draft_revision, man)
        with pytest.raises(reflection_service.AlreadyReviewed):
            reflection_service.review(first, ReviewOutcome.ACCEPTED, "", facilitator)

    def test_a_closed_case_cannot_change_answers(self, reflection, make_user):
        enrollments.transition(
            reflection.enrollment, EnrollmentState.TERMINATED, make_user(Role.ADMIN), "Rearrest."
        )
        with pytest.raises(ServiceError, match="Your case is closed"):
            reflection_service.save_draft(reflection, "x", 0, reflection.enrollment.participant)

    def test_a_prompt_from_another_course_version_is_refused(self, reflection, make_enrollment):
        other = make_enrollment()
        other.cohort.version_id = -1  # as if pinned to another version
        with pytest.raises(ServiceError, match="not part of your course"):
            reflection_service.reflection_for(other, reflection.prompt)


# --- certificates -------------------------------------------------------------------------------

CROCKFORD = re.compile(r"^[0-9A-HJKMNP-TV-Z]{16}$")


class TestCertificates:
    def test_refused_while_the_case_is_incomplete(self, make_enrollment):
        enrollment = make_enrollment()
        mark_all(enrollment, enrollment.cohort.facilitators[0])
        with pytest.raises(
            ServiceError, match="not complete yet: 4 reflections to write and submit"
        ):
            certificate_service.issue(enrollment, enrollment.cohort.facilitators[0])
        assert enrollment.certificates == []

    def test_only_staff_who_may_issue_can(self, make_user, make_enrollment):
        enrollment = make_enrollment()
        complete_case(enrollment)
        for role in (Role.PARTICIPANT, Role.CLERK):
            kwargs = {"court": enrollment.court} if role is Role.CLERK else {}
            with pytest.raises(ServiceError, match="Only a facilitator or the program director"):
                certificate_service.issue(enrollment, make_user(role, **kwargs))

    def test_issue_stores_the_pdf_and_its_hash_and_completes_the_case(self, make_enrollment):
        enrollment = make_enrollment()
        facilitator = complete_case(enrollment)
        cert = certificate_service.issue(enrollment, facilitator)
        assert cert.pdf.startswith(b"%PDF")
        assert cert.sha256 == hashlib.sha256(cert.pdf).hexdigest()
        assert cert.status is CertificateStatus.VALID
        assert re.fullmatch(rf"AAC-{cert.issued_at.year}-\d{{4}}", cert.number)
        assert CROCKFORD.match(cert.verification_code)
        assert enrollment.state is EnrollmentState.COMPLETED
        assert enrollment.transitions[-1].reason == f"Certificate {cert.number} issued."
        assert certificate_service.find_by_pdf(cert.pdf) is cert
        [event] = events("certificate.issue")
        # The hash and the case, sealed: what /verify and `audit verify` hold the PDF against.
        assert event.details == {
            "number": cert.number,
            "sha256": cert.sha256,
            "enrollment_id": enrollment.id,
        }

    def test_numbers_are_sequential_within_program_and_year(self, make_cohort, make_enrollment):
        cohort = make_cohort()
        first, second = make_enrollment(cohort=cohort), make_enrollment(cohort=cohort)
        facilitator = complete_case(first)
        complete_case(second)
        a = certificate_service.issue(first, facilitator)
        b = certificate_service.issue(second, facilitator)
        prefix, n = a.number.rsplit("-", 1)
        assert b.number == f"{prefix}-{int(n) + 1:04d}"
        assert a.verification_code != b.verification_code

    def test_a_number_taken_meanwhile_moves_on_to_the_next(
        self, make_cohort, make_enrollment, monkeypatch
    ):
        cohort = make_cohort()
        first, second = make_enrollment(cohort=cohort), make_enrollment(cohort=cohort)
        facilitator = complete_case(first)
        complete_case(second)
        taken = certificate_service.issue(first, facilitator).number
        real = certificate_service._next_number
        calls = []

        def stale_then_real(enrollment, year):
            # As if another issue committed `taken` after this one counted.
            calls.append(year)
            return taken if len(calls) == 1 else real(enrollment, year)

        monkeypatch.setattr(certificate_service, "_next_number", stale_then_real)
        cert = certificate_service.issue(second, facilitator)
        prefix, n = taken.rsplit("-", 1)
        assert cert.number == f"{prefix}-{int(n) + 1:04d}"
        assert len(calls) == 2
        assert second.certificates == [cert]
        assert certificate_service.find_by_pdf(cert.pdf) is cert

    def test_a_second_certificate_for_the_same_case_is_refused(self, make_enrollment):
        enrollment = make_enrollment()
        facilitator = complete_case(enrollment)
        cert = certificate_service.issue(enrollment, facilitator)
        with pytest.raises(ServiceError, match=f"Certificate {cert.number} was already issued"):
            certificate_service.issue(enrollment, facilitator)
        assert len(enrollment.certificates) == 1

    def test_a_closed_case_gets_no_certificate(self, make_user, make_enrollment):
        enrollment = make_enrollment()
        facilitator = complete_case(enrollment)
        enrollments.transition(
            enrollment, EnrollmentState.TERMINATED, make_user(Role.ADMIN), "New arrest."
        )
        with pytest.raises(ServiceError, match="terminated"):
            certificate_service.issue(enrollment, facilitator)
        assert enrollment.certificates == []

    def test_verification_codes_are_80_random_bits_in_crockford_base32(self):
        codes = {certificate_service.new_verification_code() for _ in range(200)}
        assert len(codes) == 200
        assert all(CROCKFORD.match(code) for code in codes)
        assert set("".join(codes)) <= set(certificate_service.ALPHABET)
        assert len(certificate_service.ALPHABET) == 32  # 16 characters x 5 bits = 80 bits

    @pytest.mark.parametrize(
        "typed",
        [
            "7K3MQ9TX4HRP2WDN",
            "7k3m-q9tx-4hrp-2wdn",
            " 7K3M Q9TX 4HRP 2WDN ",
            "7K3M-Q9TX-4HRP-2WDN",
        ],
    )
    def test_codes_are_read_as_people_type_them(self, typed):
        assert certificate_service.normalize_code(typed) == "7K3MQ9TX4HRP2WDN"

    def test_letters_that_look_like_digits_are_read_as_digits(self):
        assert certificate_service.normalize_code("OoIiLl") == "001111"
        assert certificate_service.format_code("7K3MQ9TX4HRP2WDN") == "7K3M-Q9TX-4HRP-2WDN"

    def test_find_by_code_forgives_case_dashes_and_letter_o(self, make_enrollment):
        enrollment = make_enrollment()
        facilitator = complete_case(enrollment)
        cert = certificate_service.issue(enrollment, facilitator)
        cert.verification_code = "0123456789ABCDEF"
        db.session.flush()
        assert certificate_service.find_by_code("o123-4567-89ab-cdef") is cert
        assert certificate_service.find_by_code("0123-4567-89AB-CDE") is None
        tampered = bytearray(cert.pdf)
        tampered[-10] ^= 0xFF
        assert certificate_service.find_by_pdf(bytes(tampered)) is None

    def test_revoking_needs_the_director_and_a_reason(self, make_user, make_enrollment):
        enrollment = make_enrollment()
        facilitator = complete_case(enrollment)
        cert = certificate_service.issue(enrollment, facilitator)
        with pytest.raises(ServiceError, match="Only the program director can revoke"):
            certificate_service.revoke(cert, facilitator, "Issued by mistake.")
        director = make_user(Role.ADMIN)
        with pytest.raises(ServiceError, match="Give the reason"):
            certificate_service.revoke(cert, director, "  ")
        assert cert.status is CertificateStatus.VALID

        certificate_service.revoke(cert, director, "  Issued to the wrong case. ")
        assert cert.status is CertificateStatus.REVOKED
        assert cert.status_reason == "Issued to the wrong case."
        assert cert.status_changed_at is not None
        with pytest.raises(ServiceError, match="already revoked"):
            certificate_service.revoke(cert, director, "Again.")
        assert enrollment.valid_certificate is None


# --- audit chain --------------------------------------------------------------------------------


@pytest.fixture
def chain(make_user):
    """Five events on top of whatever the database already holds."""
    actor = make_user(Role.ADMIN)
    recorded = [audit.record("test.event", actor, actor, n=n) for n in range(5)]
    ok, broken, _count = audit.verify_chain()
    assert ok and broken is None
    return recorded


class TestAuditChain:
    def test_events_link_to_the_one_before(self, chain):
        for before, after in zip(chain, chain[1:], strict=False):
            assert after.prev_hash == before.hash
        ok, broken, count = audit.verify_chain()
        assert (ok, broken) == (True, None)
        assert count >= 5

    def test_an_edited_event_is_found(self, chain):
        raw_sql("UPDATE audit_events SET action = 'test.innocent' WHERE id = :id", id=chain[2].id)
        ok, broken, _ = audit.verify_chain()
        assert not ok
        assert broken.id == chain[2].id

    def test_an_edited_detail_is_found(self, chain):
        raw_sql("UPDATE audit_events SET actor_id = NULL WHERE id = :id", id=chain[3].id)
        ok, broken, _ = audit.verify_chain()
        assert (ok, broken.id) == (False, chain[3].id)

    def test_a_deleted_event_is_found(self, chain):
        raw_sql("DELETE FROM audit_events WHERE id = :id", id=chain[1].id)
        ok, broken, _ = audit.verify_chain()
        assert not ok
        assert broken.id == chain[2].id  # the next event no longer follows its predecessor

    def test_an_inserted_event_is_found(self, chain):
        """A forged event spliced in after event 1, hashed correctly, still breaks the chain."""
        forge_event(chain[-1].id + 1, chain[1].hash)
        ok, broken, _ = audit.verify_chain()
        assert not ok
        assert broken.id == chain[-1].id + 1

    def test_the_chain_survives_a_database_in_another_timezone(self, chain):
        """Stored times must read back the same whatever the server's timezone."""
        if db.session.get_bind().dialect.name == "postgresql":
            # Only PostgreSQL converts timestamps to the session's timezone on the way out.
            raw_sql("SET LOCAL TIME ZONE 'America/New_York'")
        db.session.expire_all()
        ok, broken, _ = audit.verify_chain()
        assert ok, f"chain reported broken at {broken and broken.id}"
        assert all(e.at.utcoffset().total_seconds() == 0 for e in chain)

    def test_the_cli_names_the_first_broken_event(self, chain, runner):
        result = runner.invoke(args=["audit", "verify"])
        assert result.exit_code == 0
        assert "Audit chain intact" in result.output
        raw_sql("UPDATE audit_events SET action = 'x' WHERE id = :id", id=chain[0].id)
        result = runner.invoke(args=["audit", "verify"])
        assert result.exit_code == 1
        assert f"Audit chain broken at event {chain[0].id} (x," in result.output
