"""When a cohort's modules open, how far a man has got through them, and moving a cohort
to a newer curriculum version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..models import (
    AttendanceStatus,
    Cohort,
    CurriculumVersion,
    Enrollment,
    Meeting,
    Module,
    Reflection,
    ReflectionState,
    SessionStatus,
    User,
    utcnow,
)
from . import ServiceError, audit


def session_for(cohort: Cohort, module: Module) -> Meeting | None:
    return next((s for s in cohort.sessions if s.module_id == module.id), None)


def opens_at(cohort: Cohort, module: Module) -> datetime | None:
    """A module's reading opens a set number of days before its session (None: no session)."""
    session = session_for(cohort, module)
    if session is None:
        return None
    return session.scheduled_at - timedelta(days=cohort.version.module_opens_days_before)


def is_open(cohort: Cohort, module: Module, now: datetime | None = None) -> bool:
    when = opens_at(cohort, module)
    return when is not None and when <= (now or utcnow())


@dataclass
class ModuleProgress:
    module: Module
    session: Meeting | None
    opens_at: datetime | None
    is_open: bool
    attendance: AttendanceStatus | None  # None: not marked (yet)
    counts: bool  # False for a session held before his enrollment began
    reflections: list[tuple]  # (prompt, Reflection | None)
    is_next: bool = False

    @property
    def state(self) -> str:
        """done, waiting, returned, due, open or locked: what the man should do about it."""
        if not self.is_open:
            return "locked"
        required = [(p, r) for p, r in self.reflections if p.required]
        states = [r.state if r else ReflectionState.DRAFT for _p, r in required]
        if any(s is ReflectionState.RETURNED for s in states):
            return "returned"
        if any(s is ReflectionState.DRAFT for s in states):
            return "due"
        if any(s is ReflectionState.SUBMITTED for s in states):
            return "waiting"
        return "done"


def progress(enrollment: Enrollment, now: datetime | None = None) -> list[ModuleProgress]:

    now = now or utcnow()
    cohort = enrollment.cohort
    reflections = {r.prompt_id: r for r in enrollment.reflections}
    marks = {a.session_id: a for a in enrollment.attendance}
    rows = []
    for module in cohort.version.modules:
        session = session_for(cohort, module)
        mark = marks.get(session.id) if session else None
        rows.append(
            ModuleProgress(
                module=module,
                session=session,
                opens_at=opens_at(cohort, module),
                is_open=is_open(cohort, module, now),
                attendance=mark.status if mark else None,
                counts=session is None
                or session.local_date >= enrollment.starts_on
                or (mark is not None and mark.status is AttendanceStatus.MADE_UP),
                reflections=[(p, reflections.get(p.id)) for p in module.prompts],
            )
        )
    upcoming = [
        r
        for r in rows
        if r.session
        and r.session.status is not SessionStatus.CANCELLED
        and r.session.scheduled_at >= now
    ]
    if upcoming:
        upcoming[0].is_next = True
    return rows


def move_cohort(cohort: Cohort, version: CurriculumVersion, actor: User, reason: str) -> list[str]:
    """Move a cohort to a newer version of its program. Returns what changed, in words."""
    current = cohort.version
    if not reason.strip():
        raise ServiceError(_("Give the reason for moving this cohort to another version."))
    if version.program_id != current.program_id:
        raise ServiceError(_("A cohort can only move to a version of its own program."))
    if version.id == current.id:
        raise ServiceError(
            _("The cohort is already on version %(version)s.", version=version.label)
        )
    if version.loaded_at <= current.loaded_at:
        raise ServiceError(_("A cohort can only move to a newer version."))
    new_modules = {m.session_number: m for m in version.modules}
    missing = [s.number for s in cohort.sessions if s.number not in new_modules]
    if missing:
        raise ServiceError(
            _(
                "Version %(version)s has no module for session(s) %(sessions)s that this "
                "cohort has scheduled.",
                version=version.label,
                sessions=", ".join(map(str, missing)),
            )
        )
    changes = _move_sessions(cohort, new_modules)
    kept = _move_reflections(cohort, version)
    if kept:
        changes.append(
            f"{kept} reflection(s) answer prompts the new version no longer has; "
            "they are kept as written"
        )
    cohort.version = version
    db.session.flush()
    audit.record(
        "cohort.move_version",
        actor,
        cohort,
        **{"from": current.label, "to": version.label, "reason": reason.strip()},
    )
    return [f"moved from version {current.label} to {version.label}", *changes]


def _move_sessions(cohort: Cohort, new_modules: dict[int, Module]) -> list[str]:
    """Point each session at the new version's module of its number; schedule sessions for
    modules the cohort had none for, weekly after its last. Returns what was scheduled."""
    changes = []
    scheduled = {s.number: s for s in cohort.sessions}
    last = max(cohort.sessions, key=lambda s: s.scheduled_at, default=None)
    for number, module in sorted(new_modules.items()):
        if number in scheduled:
            scheduled[number].module = module
        else:
            base = last.scheduled_at if last else utcnow()
            weeks = number - (last.number if last else 0)
            db.session.add(
                Meeting(cohort=cohort, module=module, scheduled_at=base + timedelta(weeks=weeks))
            )
            changes.append(f"session {number} scheduled: {module.title}")
    return changes


def _move_reflections(cohort: Cohort, version: CurriculumVersion) -> int:
    """Point the cohort's reflections at the new version's prompt of the same id. Returns how
    many answer a prompt the new version no longer has (they stay on the old one)."""
    new_prompts = {p.key: p for m in version.modules for p in m.prompts}
    kept = 0
    for reflection in db.session.scalars(
        select(Reflection).join(Enrollment).where(Enrollment.cohort_id == cohort.id)
    ):
        prompt = new_prompts.get(reflection.prompt.key)
        if prompt is not None:
            reflection.prompt = prompt
        else:
            kept += 1
    return kept
