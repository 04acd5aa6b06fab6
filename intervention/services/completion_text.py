"""The completion engine's facts in plain words, in the current language: what staff, the
man and the court read on pages and documents. (A court's system reads the facts themselves:
see completion.Completion.)"""

from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from flask_babel import ngettext

from ..i18n import format_date
from .completion import Breach, Completion, Owed, Owing, Risk, Rule


def breach_reason(breach: Breach) -> str:
    """Why a rule is broken: what a non-compliance notice states as its finding."""
    if breach.rule is Rule.MAX_ABSENCES:
        return ngettext(
            "%(num)d absence; the limit is %(limit)d.",
            "%(num)d absences; the limit is %(limit)d.",
            breach.count,
            limit=breach.limit,
        )
    if breach.rule is Rule.MAX_CONSECUTIVE_ABSENCES:
        return ngettext(
            "%(num)d absence in a row; the limit is %(limit)d.",
            "%(num)d absences in a row; the limit is %(limit)d.",
            breach.count,
            limit=breach.limit,
        )
    if breach.rule is Rule.MAX_GAP_DAYS:
        return ngettext(
            "%(num)d day without attendance; the limit is %(limit)d.",
            "%(num)d days without attendance; the limit is %(limit)d.",
            breach.count,
            limit=breach.limit,
        )
    return _("The completion deadline (%(date)s) has passed.", date=format_date(breach.limit))


def violations(result: Completion) -> list[str]:
    """The broken rules, one sentence each."""
    return [breach_reason(b) for b in result.breaches]


def blockers(result: Completion) -> list[str]:
    """Why completion is no longer possible: the broken rules, or too few sessions left."""
    found = violations(result)
    if result.sessions_available is not None:
        found.append(
            ngettext(
                "Only %(num)d session can count for this case; %(required)d are required.",
                "Only %(num)d sessions can count for this case; %(required)d are required.",
                result.sessions_available,
                required=result.sessions_required,
            )
        )
    return found


def owed(result: Completion) -> list[str]:
    """Every requirement not met yet, one sentence each."""
    return [owed_text(item, result) for item in result.owed]


def unmet(result: Completion) -> list[str]:
    """Every requirement not met yet, then what stands in the way of completion."""
    return owed(result) + blockers(result)


def owed_text(item: Owed, result: Completion) -> str:
    """One requirement not met yet, in one sentence."""
    if item.kind is Owing.ATTEND:
        return ngettext(
            "%(num)d more session to attend (%(credited)d of %(required)d credited).",
            "%(num)d more sessions to attend (%(credited)d of %(required)d credited).",
            item.count,
            credited=result.sessions_credited,
            required=result.sessions_required,
        )
    if item.kind is Owing.MAKE_UP:
        return ngettext(
            "%(num)d missed session to make up: %(sessions)s.",
            "%(num)d missed sessions to make up: %(sessions)s.",
            item.count,
            sessions=sessions(item.sessions),
        )
    if item.kind is Owing.MAKE_UP_ELSEWHERE:
        return _elsewhere(item)
    return _reflections_owed(item)


def risks(result: Completion) -> list[str]:
    """Why he is at risk of breaking a rule, one sentence each."""
    return [risk_text(risk) for risk in result.risks]


def risk_text(risk: Risk) -> str:
    if risk.rule is Rule.MAX_ABSENCES:
        return ngettext(
            "%(num)d absence so far; one more breaks the limit of %(limit)d.",
            "%(num)d absences so far; one more breaks the limit of %(limit)d.",
            risk.count,
            limit=risk.limit,
        )
    if risk.rule is Rule.MAX_CONSECUTIVE_ABSENCES:
        return ngettext(
            "%(num)d absence in a row; one more in a row breaks the limit of %(limit)d.",
            "%(num)d absences in a row; one more in a row breaks the limit of %(limit)d.",
            risk.count,
            limit=risk.limit,
        )
    if risk.rule is Rule.MAX_GAP_DAYS:
        return ngettext(
            "%(num)d day without attendance; the limit of %(limit)d days is reached on %(date)s.",
            "%(num)d days without attendance; the limit of %(limit)d days is reached on %(date)s.",
            risk.count,
            limit=risk.limit,
            date=format_date(risk.on),
        )
    return _deadline_near(risk.limit, risk.count, risk.sessions)


def sessions(numbers: tuple[int, ...] | list[int]) -> str:
    """ "session 4" / "sessions 2, 5 and 7", in the current language."""
    unique = sorted(set(numbers))
    if len(unique) == 1:
        return _("session %(num)d", num=unique[0])
    return _(
        "sessions %(list)s and %(last)d",
        list=", ".join(map(str, unique[:-1])),
        last=unique[-1],
    )


def _elsewhere(item: Owed) -> str:
    """Sessions he can only make up in another cohort: all of them, or some of a list."""
    if item.any_of:
        return ngettext(
            "%(num)d more session to make up in another group: any of %(sessions)s.",
            "%(num)d more sessions to make up in another group: any of %(sessions)s.",
            item.count,
            sessions=sessions(item.sessions),
        )
    return ngettext(
        "%(num)d more session to make up in another group: %(sessions)s.",
        "%(num)d more sessions to make up in another group: %(sessions)s.",
        item.count,
        sessions=sessions(item.sessions),
    )


def _reflections_owed(item: Owed) -> str:
    """What he still has to do about the reflections of these sessions, in one sentence."""
    which = sessions(item.sessions)
    if item.kind is Owing.REVISE:
        return ngettext(
            "%(num)d reflection to revise and submit again: %(sessions)s.",
            "%(num)d reflections to revise and submit again: %(sessions)s.",
            item.count,
            sessions=which,
        )
    if item.kind is Owing.WRITE:
        return ngettext(
            "%(num)d reflection to write and submit: %(sessions)s.",
            "%(num)d reflections to write and submit: %(sessions)s.",
            item.count,
            sessions=which,
        )
    return ngettext(
        "%(num)d reflection waiting for review: %(sessions)s.",
        "%(num)d reflections waiting for review: %(sessions)s.",
        item.count,
        sessions=which,
    )


def _deadline_near(deadline: date, days_left: int, owed: int) -> str:
    """The warning that the completion deadline is close, with what is still owed."""
    day = format_date(deadline)
    still = ngettext(
        "%(num)d session still to be credited.", "%(num)d sessions still to be credited.", owed
    )
    if days_left == 0:
        return _("The completion deadline is %(date)s, today; %(still)s", date=day, still=still)
    return ngettext(
        "The completion deadline is %(date)s, in %(num)d day; %(still)s",
        "The completion deadline is %(date)s, in %(num)d days; %(still)s",
        days_left,
        date=day,
        still=still,
    )
