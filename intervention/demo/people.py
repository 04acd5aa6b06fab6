"""The men of the scale data and everything that happened to them: enrollments and their
transitions, attendance marks and make-ups, reflections and their reviews."""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

from ..models import (
    Attendance,
    AttendanceChange,
    AttendanceStatus,
    Enrollment,
    EnrollmentState,
    EnrollmentTransition,
    ReferralType,
    Reflection,
    ReflectionAttempt,
    ReflectionState,
    Review,
    ReviewOutcome,
    Role,
    User,
)
from ..services.reflections import count_words
from ..services.scheduling import local_to_utc
from .bulk import event
from .plan import CohortPlan, person_name
from .seed import ANSWERS

SPANISH_ANSWER = (
    "Me arrestaron un viernes por la noche. Yo pensaba que no hacía daño a nadie. Ahora veo "
    "que sólo pensaba en mí. No pregunté quién era ella ni cuántos años tenía. Le mentí a mi "
    "esposa. Quiero entender por qué lo hice y no volver a hacerlo nunca. Sé que mis "
    "decisiones tienen un costo para otras personas y quiero mirarlo con honestidad."
)
RETURN_COMMENTS = [
    "You describe the day, but not your choices. What did you decide, and when? Please add that.",
    "Please write about your own part, not about what other people did.",
    "This is a start. Say more about who was affected and how.",
]
ACCEPT_COMMENTS = [
    "Honest and specific. Thank you.",
    "Thank you for being so direct.",
    "Good work; bring this to the group next week.",
    "",
]
REFERRAL_WEIGHTS = [
    (ReferralType.PRE_FILING, 45),
    (ReferralType.DEFERRED_PROSECUTION, 30),
    (ReferralType.PROBATION_CONDITION, 20),
    (ReferralType.SELF_REFERRAL, 5),
]


class Writer:
    """Writes one cohort's men and everything that happened to them, in bulk."""

    def __init__(self, bulk, chain, rng, password_hash, now, makeup_index, admin_id):
        self.bulk, self.chain, self.rng = bulk, chain, rng
        self.password_hash, self.now = password_hash, now
        self.makeup_index = makeup_index  # (version id, module index) -> [(at, session, cohort)]
        self.admin_id = admin_id  # the program director enrolls the men the courts refer
        self.participants = 0
        self.texts: dict[tuple[bool, int, int], tuple[str, int]] = {}
        self.complete: list[int] = []  # enrollment ids of completed men, awaiting certificate
        self.drafting: list[dict] = []  # candidates for the manifest's participants

    def cohort(self, plan: CohortPlan) -> None:
        events: list[dict] = []
        for _ in range(plan.size):
            self.man(plan, events)
        for at in plan.session_at[: plan.held]:  # staff sign in to take attendance
            for user_id in plan.facilitator_ids:
                signed_in = at - timedelta(minutes=20)
                events.append(event(signed_in, user_id, "auth.login", "user", user_id))
        self.chain.write(events)

    def man(self, plan: CohortPlan, events: list[dict]) -> None:
        """One man referred to this cohort, and what has happened to him since, as his fate
        (drawn at his referral) says."""
        self.participants += 1
        name = person_name(self.rng, plan.spanish)
        referred, referred_at = self.referral_date(plan)
        user_id = self.account(name, referred_at)
        case, fate = self.enroll(plan, events, user_id, name, referred, referred_at)
        if fate != "referred":
            self.course(case, fate, referred_at)

    def referral_date(self, plan: CohortPlan) -> tuple[date, datetime]:
        """The day the court referred him, a week to a month before the cohort starts (never
        after today), and the moment in a working day, at least an hour ago."""
        rng = self.rng
        referred = min(plan.start - timedelta(days=rng.randint(7, 30)), self.now.date())
        referred_at = local_to_utc(
            referred, time(rng.randint(9, 16), rng.randint(0, 59)), plan.court.timezone
        )
        return referred, min(referred_at, self.now - timedelta(hours=1))

    def account(self, name: str, referred_at: datetime) -> int:
        """His account, made the day he was referred; returns its id."""
        return self.bulk.add(
            User.__table__,
            email=f"participant-{self.participants}@scale.test",
            full_name=name,
            password_hash=self.password_hash,
            role=Role.PARTICIPANT,
            court_id=None,
            active=True,
            created_at=referred_at,
            session_version=1,
            totp_enabled=False,
        )

    def enroll(self, plan, events, user_id, name, referred, referred_at):
        """His case, with a docket number from his court, its referral and its fate; returns
        the case and the fate."""
        rng, court = self.rng, plan.court
        court.next_case += rng.randint(1, 9)
        docket = f"{court.prefix}-{referred:%y}-{court.next_case:06d}"
        kind = rng.choices([k for k, _ in REFERRAL_WEIGHTS], [w for _, w in REFERRAL_WEIGHTS])[0]
        fate = self.fate(plan)
        state = {
            "referred": EnrollmentState.REFERRED,
            "terminated": EnrollmentState.TERMINATED,
        }.get(fate, EnrollmentState.ACTIVE)
        enrollment_id = self.bulk.add(
            Enrollment.__table__,
            participant_id=user_id,
            cohort_id=plan.id,
            court_id=court.id,
            case_number=docket,
            referral_type=kind,
            referral_date=referred,
            completion_deadline=plan.start + timedelta(days=120),
            starts_on=plan.start,
            overrides={},
            state=state,
            created_at=referred_at,
            legal_hold=False,
            legal_hold_reason="",
        )
        court.cases.append((name, docket, enrollment_id))
        case = SimpleNamespace(id=enrollment_id, user_id=user_id, plan=plan, events=events)
        self.transition(
            case, None, EnrollmentState.REFERRED, referred_at, f"Referral from {court.name}."
        )
        events.append(
            event(
                referred_at,
                self.admin_id,
                "enrollment.create",
                "enrollment",
                enrollment_id,
                participant_id=user_id,
                cohort_id=plan.id,
                court_id=court.id,
                referral_type=kind.value,
                referral_date=referred.isoformat(),
            )
        )
        return case, fate

    def course(self, case, fate: str, referred_at: datetime) -> None:
        """From intake on: his marks, his answers, his sign-ins, and how it ended."""
        rng, plan, events, user_id = self.rng, case.plan, case.events, case.user_id
        intake = min(
            referred_at + timedelta(days=rng.randint(1, 5)), self.now - timedelta(minutes=30)
        )
        self.transition(
            case, EnrollmentState.REFERRED, EnrollmentState.ACTIVE, intake, "Intake completed."
        )
        marks = self.marks(plan, fate)
        for index, status in enumerate(marks):
            self.mark(case, index, status)
        answered = len(marks) if fate != "terminated" else marks.index(AttendanceStatus.ABSENT)
        self.reflections(case, fate, answered)
        logins = sorted({plan.session_at[0], plan.session_at[max(0, len(marks) - 1)]})
        for at in logins:
            if at < self.now:
                when = at + timedelta(days=1, hours=rng.randint(0, 8))
                events.append(event(min(when, self.now), user_id, "auth.login", "user", user_id))
        if fate == "terminated":
            at = plan.session_at[len(marks) - 1] + timedelta(days=2)
            self.transition(
                case,
                EnrollmentState.ACTIVE,
                EnrollmentState.TERMINATED,
                at,
                "Absent from two sessions in a row; terminated under the attendance policy.",
            )
        if fate == "complete":
            self.complete.append(case.id)

    def fate(self, plan: CohortPlan) -> str:
        roll = self.rng.random()
        if plan.phase == "U":
            return "referred" if roll < 0.2 else "upcoming"
        if plan.phase == "R":
            return "running"
        if roll < 0.12:
            return "terminated"
        return "makeup" if roll < 0.16 else "complete"

    def marks(self, plan: CohortPlan, fate: str) -> list[AttendanceStatus]:
        """His marks for the held sessions, in order; shaped so his completion state is
        the one his fate says (complete, terminated, or still possible while running)."""
        rng, held = self.rng, plan.held
        late_ok = bool(plan.version.policy.get("late_counts_as_attended"))
        marks = [
            AttendanceStatus.LATE if late_ok and rng.random() < 0.06 else AttendanceStatus.PRESENT
            for _ in range(held)
        ]
        if fate == "makeup":
            marks[rng.randrange(held)] = AttendanceStatus.MADE_UP
        elif fate == "terminated":
            first = rng.randint(1, held - 2) if held > 2 else max(0, held - 2)
            marks = marks[:first] + [AttendanceStatus.ABSENT, AttendanceStatus.ABSENT]
        elif fate == "running" and held > 1 and rng.random() < 0.12:
            marks[rng.randrange(held - 1)] = rng.choice(
                [AttendanceStatus.ABSENT, AttendanceStatus.EXCUSED]
            )
        return marks

    def mark(self, case, index: int, status: AttendanceStatus) -> None:
        rng, plan = self.rng, case.plan
        module = plan.version.modules[index]
        full = module.duration_minutes
        actor = self.facilitator(plan)
        at = plan.session_at[index] + timedelta(minutes=full + rng.randint(2, 40))
        if status is AttendanceStatus.MADE_UP:
            other = self.makeup_session(plan, index)
            if other is None:
                status = AttendanceStatus.PRESENT
            else:
                self.makeup(case, index, other, actor)
                return
        minutes = {
            AttendanceStatus.PRESENT: full,
            AttendanceStatus.LATE: full - rng.choice([10, 15, 20]),
        }.get(status, 0)
        self.write_mark(case, plan.session_ids[index], status, minutes, actor, at)

    def write_mark(self, case, session_id, status, minutes, actor, at, *, history=(), **extra):
        """One mark with its history (earlier changes first) and one audit event per change."""
        mark_id = self.bulk.add(
            Attendance.__table__,
            enrollment_id=case.id,
            session_id=session_id,
            status=status,
            minutes_credited=minutes,
            note="",
            made_up_at_session_id=extra.pop("made_up_at", None),
            linked_attendance_id=None,
            recorded_by_id=actor,
            recorded_at=at,
        )
        changes = list(history) + [(status, minutes, at, extra.pop("reason", ""))]
        previous = (None, None)
        for to_status, to_minutes, when, reason in changes:
            change_id = self.bulk.add(
                AttendanceChange.__table__,
                attendance_id=mark_id,
                from_status=previous[0],
                to_status=to_status,
                from_minutes=previous[1],
                to_minutes=to_minutes,
                reason=reason,
                actor_id=actor,
                at=when,
            )
            details = {"enrollment_id": case.id, "session_id": session_id, "to": to_status.value}
            details["minutes"] = to_minutes
            details["change_id"] = change_id  # as services/attendance.py: never the reason
            if previous[0] is not None:
                details["from"] = previous[0].value
            action = extra.get("action") or (
                "attendance.mark" if previous[0] is None else "attendance.change"
            )
            if action == "attendance.makeup":
                details["missed_session_id"] = extra["missed_session_id"]
            case.events.append(event(when, actor, action, "attendance", mark_id, **details))
            previous = (to_status, to_minutes)
        return mark_id

    def makeup_session(self, plan: CohortPlan, index: int):
        """Another cohort's held session of the same module within three weeks after."""
        missed = plan.session_at[index]
        sessions = self.makeup_index.get((plan.version.id, index), [])
        for at, session_id, cohort_id in sessions[bisect_right(sessions, (missed, 1 << 62)) :]:
            if at > missed + timedelta(days=20) or at >= self.now:
                return None
            if cohort_id != plan.id:
                return at, session_id, cohort_id
        return None

    def makeup(self, case, index, other, actor) -> None:
        plan, rng = case.plan, self.rng
        full = plan.version.modules[index].duration_minutes
        missed_id, missed_at = plan.session_ids[index], plan.session_at[index]
        other_at, other_id, _cohort = other
        recorded = other_at + timedelta(minutes=full + rng.randint(2, 40))
        attended = self.write_mark(
            case,
            other_id,
            AttendanceStatus.PRESENT,
            full,
            actor,
            recorded,
            reason=f"Make-up for session {index + 1}",
            action="attendance.makeup",
            missed_session_id=missed_id,
        )
        first = missed_at + timedelta(minutes=full + 5)
        own = self.write_mark(
            case,
            missed_id,
            AttendanceStatus.MADE_UP,
            full,
            actor,
            recorded + timedelta(minutes=1),
            history=[(AttendanceStatus.ABSENT, 0, first, "")],
            reason=f"Made up on {other_at:%Y-%m-%d}",
            made_up_at=other_id,
        )
        self.bulk.links += [{"b_id": own, "b_link": attended}, {"b_id": attended, "b_link": own}]

    def transition(self, case, from_state, to_state, at, reason) -> None:
        actor = self.admin_id if from_state is None else self.facilitator(case.plan)
        step_id = self.bulk.add(
            EnrollmentTransition.__table__,
            enrollment_id=case.id,
            from_state=from_state,
            to_state=to_state,
            actor_id=actor,
            reason=reason,
            at=at,
        )
        if from_state is not None:
            case.events.append(
                event(
                    at,
                    actor,
                    "enrollment.transition",
                    "enrollment",
                    case.id,
                    **{"from": from_state.value, "to": to_state.value, "transition_id": step_id},
                )
            )

    def facilitator(self, plan: CohortPlan) -> int:
        return plan.facilitator_ids[0]

    # --- reflections ---

    def reflections(self, case, fate: str, answered: int) -> None:
        """Answers to the modules whose sessions he attended; while his cohort runs, the
        newest held module is still being reviewed or written, and the newest open module
        (the next one, once its reading opens) often has a draft in progress."""
        plan, rng = case.plan, self.rng
        modules = plan.version.modules
        drafting = self.newest_open(plan) if plan.phase == "R" else None
        for index in range(answered):
            newest = plan.phase == "R" and index == plan.held - 1
            for position, prompt in enumerate(modules[index].prompts):
                if (index, position) == (drafting, 0):
                    continue  # his draft in progress, below
                if not prompt.required and rng.random() < 0.6:
                    continue
                if fate in ("complete", "makeup", "terminated") or not newest:
                    outcome = (
                        "accepted"
                        if rng.random() < 0.9 or fate != "running"
                        else rng.choice(["submitted", "returned", "accepted"])
                    )
                else:
                    outcome = rng.choice(
                        ["submitted", "submitted", "accepted", "draft", "returned"]
                    )
                self.reflection(case, prompt, index, outcome)
        if drafting is not None and modules[drafting].prompts and rng.random() < 0.85:
            prompt = modules[drafting].prompts[0]
            revision = self.reflection(case, prompt, drafting, "draft")
            self.drafting.append(
                {
                    "user_id": case.user_id,
                    "cohort_id": plan.id,
                    "enrollment_id": case.id,
                    "module_number": modules[drafting].session_number,
                    "prompt_id": prompt.id,
                    "draft_revision": revision,
                }
            )

    def newest_open(self, plan: CohortPlan) -> int:
        """Index of the latest module whose reading is open: the next session's, once it
        opens (days before the session, as the program says), else the last held one."""
        if plan.held < len(plan.session_at):
            opens = plan.session_at[plan.held] - timedelta(
                days=plan.version.module_opens_days_before
            )
            if opens <= self.now:
                return plan.held
        return plan.held - 1

    def answer(self, spanish: bool, variant: int, min_words: int) -> tuple[str, int]:
        key = (spanish, variant, min_words)
        if key not in self.texts:
            base = SPANISH_ANSWER if spanish else ANSWERS[variant]
            words = base.split()
            while len(words) < min_words:
                words += base.split()
            body = " ".join(words)
            self.texts[key] = (body, count_words(body))
        return self.texts[key]

    def reflection(self, case, prompt, index: int, outcome: str) -> int:
        """One reflection in the state `outcome`; returns its draft revision."""
        rng, plan = self.rng, case.plan
        body, words = self.answer(plan.spanish, rng.randrange(len(ANSWERS)), prompt.min_words)
        session_at = plan.session_at[index]
        latest = self.now - timedelta(minutes=rng.randint(5, 600))
        if outcome == "draft":
            return self.draft(case, prompt, body, words, session_at, latest)
        attempts = self.attempts(outcome, session_at, latest)
        state = {
            "accepted": ReflectionState.ACCEPTED,
            "returned": ReflectionState.RETURNED,
            "submitted": ReflectionState.SUBMITTED,
        }[attempts[-1][2]]
        revision = len(attempts) + rng.randint(0, 4)
        reflection_id = self.bulk.add(
            Reflection.__table__,
            enrollment_id=case.id,
            prompt_id=prompt.id,
            state=state,
            draft_text=body,
            draft_saved_at=attempts[-1][1],
            draft_revision=revision,
        )
        for number, submitted, result in attempts:
            attempt_id = self.bulk.add(
                ReflectionAttempt.__table__,
                reflection_id=reflection_id,
                number=number,
                text=body,
                word_count=words,
                submitted_at=submitted,
            )
            case.events.append(
                event(
                    submitted,
                    case.user_id,
                    "reflection.submit",
                    "reflection",
                    reflection_id,
                    attempt=number,
                    words=words,
                )
            )
            if result != "submitted":
                self.review(case, reflection_id, attempt_id, number, submitted, result, latest)
        return revision

    def draft(self, case, prompt, body: str, words: int, session_at, latest) -> int:
        """A reflection still being written: the first half of his answer, saved within days
        of the session; returns its draft revision."""
        rng = self.rng
        saved = min(session_at + timedelta(days=rng.randint(0, 3), hours=rng.randint(1, 9)), latest)
        if saved < session_at - timedelta(days=6):
            saved = latest
        revision = rng.randint(1, 6)
        self.bulk.add(
            Reflection.__table__,
            enrollment_id=case.id,
            prompt_id=prompt.id,
            state=ReflectionState.DRAFT,
            draft_text=" ".join(body.split()[: max(5, words // 2)]),
            draft_saved_at=saved,
            draft_revision=revision,
        )
        return revision

    def attempts(self, outcome: str, session_at, latest) -> list[tuple[int, datetime, str]]:
        """(number, sent, result) of each attempt that ends in `outcome`: now and then a first
        attempt returned and sent again, each within days of the one before."""
        rng = self.rng
        sent = min(session_at + timedelta(days=rng.randint(1, 5), hours=rng.randint(0, 12)), latest)
        rounds = [("returned" if outcome != "returned" and rng.random() < 0.1 else None)]
        if outcome == "returned":
            rounds = ["returned"]
        elif rounds[0] == "returned":
            rounds.append(outcome)
        else:
            rounds = [outcome]
        attempts = []
        for number, result in enumerate(rounds, 1):
            attempts.append((number, sent, result))
            if result == "returned":
                reviewed = min(sent + timedelta(days=rng.randint(1, 3)), latest)
                sent = min(reviewed + timedelta(days=rng.randint(1, 4)), latest)
        return attempts

    def review(self, case, reflection_id, attempt_id, number, submitted, result, latest) -> None:
        """The facilitator's review of one attempt (`result` accepted or returned), a few days
        after it was sent, with its rubric scores."""
        rng, plan = self.rng, case.plan
        reviewer = self.facilitator(plan)
        reviewed = min(submitted + timedelta(days=rng.randint(1, 3)), latest)
        if reviewed <= submitted:
            reviewed = submitted + (latest - submitted) / 2
        review_outcome = ReviewOutcome.ACCEPTED if result == "accepted" else ReviewOutcome.RETURNED
        scores = {c["id"]: rng.randrange(len(c["levels"])) for c in plan.version.rubric or []}
        self.bulk.add(
            Review.__table__,
            attempt_id=attempt_id,
            reviewer_id=reviewer,
            outcome=review_outcome,
            comment=rng.choice(
                RETURN_COMMENTS if review_outcome is ReviewOutcome.RETURNED else ACCEPT_COMMENTS
            ),
            rubric_scores=scores,
            created_at=reviewed,
        )
        case.events.append(
            event(
                reviewed,
                reviewer,
                "reflection.review",
                "reflection",
                reflection_id,
                attempt=number,
                outcome=review_outcome.value,
                rubric=scores,
            )
        )
