"""Curriculum features end to end: what `curriculum check` says about a broken program, the HTML
stored for modules (links, images, contents, alerts), assets served per cohort, modules opening
on schedule, the module pages, a cohort pinned to its version until the director moves it, and
HTML rendered once at sync, never per request."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
import sqlalchemy as sa
from markupsafe import escape
from pypdf import PdfReader

from intervention.curriculum import render, sync
from intervention.curriculum.sync import sync_curricula
from intervention.extensions import db
from intervention.models import (
    CurriculumAsset,
    CurriculumVersion,
    Module,
    Reflection,
    ReflectionPrompt,
    Role,
)
from intervention.services import ServiceError
from intervention.services import certificates as certificate_service
from intervention.services import curriculum as curriculum_service

from .conftest import FIXTURE_CURRICULA, csrf_token
from .helpers import (
    answer,
    complete_case,
    events,
    prompts_by_key,
    signed_in,
    submit_answer,
    text_of,
    today,
)

SLUG = "accountability-and-change"
MODULE_1 = "modules/01-why-you-are-here.md"
MODULE_2 = "modules/02-the-women-behind-the-transaction.md"
PNG = (FIXTURE_CURRICULA / SLUG / "assets" / "week-plan.png").read_bytes()
PROBLEM_LINE = re.compile(r"^(?P<path>\S+):(?P<line>\d+): (?P<message>.+)$")
NOTES = "SESSION 1 - WHY YOU ARE HERE"  # the first line of module 1's facilitator notes


@pytest.fixture
def folder(curricula_copy) -> Path:
    return curricula_copy / SLUG


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not once in {path}"
    path.write_text(text.replace(old, new))


def line_of(path: Path, needle: str) -> int:
    """The file line holding the text, counted the way an editor counts."""
    [number] = [i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    return number


def check(runner, folder: Path):
    """`curriculum check` on the folder: the result and its (path, line, message) lines."""
    result = runner.invoke(args=["curriculum", "check", str(folder)])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    *lines, summary = result.output.strip().splitlines()
    assert re.fullmatch(r"1 program\(s\) checked: \d+ error\(s\), \d+ warning\(s\)", summary)
    problems = []
    for line in lines:
        match = PROBLEM_LINE.match(line)
        assert match, f"not a path:line: message line: {line!r}"
        problems.append((match["path"], int(match["line"]), match["message"]))
    return result, problems, summary


# --- curriculum check on a broken copy of the fixture program -----------------------------


def _html_block(folder):
    path = folder / MODULE_1
    edit(path, "## The law\n", '## The law\n\n<div class="box">Boxed</div>\n')
    message = (
        'raw HTML is not allowed and would show as text: <div class="box">Boxed</div> '
        "(write it in Markdown instead)"
    )
    return [(MODULE_1, line_of(path, '<div class="box">'), message)]


def _inline_html_on_a_paragraphs_second_line(folder):
    path = folder / MODULE_1
    edit(path, "did, who it affects,", "did, <b>who</b> it affects,")
    line = line_of(path, "<b>who</b>")
    assert line == 35  # the second line of its paragraph: the soft break is counted
    return [
        (MODULE_1, line, "raw HTML is not allowed and would show as text: <b> (write it"),
        (MODULE_1, line, "raw HTML is not allowed and would show as text: </b> (write it"),
    ]


def _javascript_link(folder):
    path = folder / MODULE_1
    edit(
        path,
        "Next week is [session 2]",
        "[Click here](javascript:alert(1)). Next week is [session 2]",
    )
    return [
        (
            MODULE_1,
            line_of(path, "javascript:"),
            "links starting with 'javascript:' are not allowed: javascript:alert(1)",
        )
    ]


def _link_to_a_missing_module(folder):
    path = folder / MODULE_2
    edit(
        path,
        "## What trafficking means\n",
        "## What trafficking means\n\nSee [later](04-later.md).\n",
    )
    return [
        (MODULE_2, line_of(path, "04-later.md"), "link to a module 04-later.md that does not exist")
    ]


def _link_to_a_missing_asset(folder):
    path = folder / MODULE_1
    edit(path, "(../assets/week-plan.png)", "(../assets/week-plan.png)\n![Map](../assets/map.png)")
    return [
        (MODULE_1, line_of(path, "map.png"), "link to a file assets/map.png that does not exist")
    ]


OUTSIDE = (
    "points outside the program; link to a module file (02-next.md) or to a file in assets/ "
    "(../assets/handout.pdf)"
)


def _links_escaping_the_program(folder):
    path = folder / MODULE_1
    edit(
        path,
        "## The rules\n",
        "## The rules\n\n[Secret](../../secret.txt)\n\n[Passwords](/etc/passwd)\n\n"
        "[Settings](../program.yaml)\n\n![Up and back](../assets/../program.yaml)\n",
    )
    (folder.parent / "secret.txt").write_text("not for participants")
    return [
        (MODULE_1, line_of(path, "secret.txt"), f"link to '../../secret.txt' {OUTSIDE}"),
        (MODULE_1, line_of(path, "/etc/passwd"), f"link to '/etc/passwd' {OUTSIDE}"),
        (MODULE_1, line_of(path, "[Settings]"), f"link to '../program.yaml' {OUTSIDE}"),
        (MODULE_1, line_of(path, "Up and back"), f"link to '../assets/../program.yaml' {OUTSIDE}"),
    ]


def _unknown_program_key_with_a_suggestion(folder):
    path = folder / "program.yaml"
    edit(path, 'version: "2026.1"\n', 'version: "2026.1"\nmodule_opens_day_before: 2\n')
    message = (
        "unknown key 'module_opens_day_before' in program.yaml "
        "(did you mean 'module_opens_days_before'?)"
    )
    return [("program.yaml", line_of(path, "module_opens_day_before"), message)]


def _negative_module_opens_days_before(folder):
    path = folder / "program.yaml"
    edit(path, 'version: "2026.1"\n', 'version: "2026.1"\nmodule_opens_days_before: -2\n')
    message = (
        "'module_opens_days_before' must be 0 or more (0: a module opens when its session starts)"
    )
    return [("program.yaml", line_of(path, "module_opens_days_before"), message)]


def _module_opens_days_before_beyond_a_year(folder):
    """A million days before a session is before year 1: every module page would fail."""
    path = folder / "program.yaml"
    edit(path, 'version: "2026.1"\n', 'version: "2026.1"\nmodule_opens_days_before: 1000000\n')
    message = "'module_opens_days_before' must be 365 or less"
    return [("program.yaml", line_of(path, "module_opens_days_before"), message)]


def _module_opens_days_before_not_a_number(folder):
    path = folder / "program.yaml"
    edit(path, 'version: "2026.1"\n', 'version: "2026.1"\nmodule_opens_days_before: soon\n')
    message = "'module_opens_days_before' must be a whole number, not 'soon'"
    return [("program.yaml", line_of(path, "module_opens_days_before"), message)]


def _asset_too_big(folder):
    (folder / "assets" / "huge.pdf").write_bytes(b"%PDF-" + b"0" * (6 * 1024 * 1024))
    return [("assets/huge.pdf", 1, "file is 6144 KB; the limit is 5120 KB")]


def _inline_html_and_an_image_over_two_lines(folder):
    """Line breaks inside raw HTML or an image's alt text move the later problems down."""
    path = folder / MODULE_1
    edit(
        path,
        "## The law\n\n",
        '## The law\n\nA <span\ntitle="x">word</span> and ![the\nplan](../assets/week-plan.png)'
        "\nthen [a](javascript:late).\n\n",
    )
    html = "raw HTML is not allowed and would show as text:"
    return [
        (MODULE_1, line_of(path, "A <span"), f'{html} <span title="x"> (write it'),
        (MODULE_1, line_of(path, 'title="x">'), f"{html} </span> (write it"),
        (MODULE_1, line_of(path, "javascript:late"), "links starting with 'javascript:' are not"),
    ]


def _numbers_too_large_for_the_database(folder):
    path = folder / MODULE_1
    edit(path, "session: 1\n", "session: 3000000000\n")
    edit(path, "duration_minutes: 120\n", "duration_minutes: 99999\n")
    edit(path, "min_words: 80\n", "min_words: 1000000\n")
    return [
        (MODULE_1, line_of(path, "session:"), "'session' must be between 1 and 200"),
        (MODULE_1, line_of(path, "duration_minutes:"), "'duration_minutes' must be between 1"),
        (MODULE_1, line_of(path, "min_words: 1000000"), "reflection prompt 1: 'min_words' must"),
    ]


def _link_to_an_asset_of_a_type_not_served(folder):
    path = folder / MODULE_1
    (folder / "assets" / "diagram.svg").write_text("<svg></svg>")
    edit(
        path, "(../assets/week-plan.png)", "(../assets/week-plan.png)\n![D](../assets/diagram.svg)"
    )
    return [
        (
            MODULE_1,
            line_of(path, "diagram.svg"),
            "link to assets/diagram.svg, a file type participants are not served",
        ),
    ]


@pytest.mark.parametrize(
    "breakage",
    [_numbers_too_large_for_the_database, _link_to_an_asset_of_a_type_not_served],
    ids=lambda f: f.__name__.strip("_"),
)
def test_check_reports_these_among_its_problems(runner, folder, breakage):
    """Cases that also bring follow-on lines (a dropped module, a warned asset)."""
    expected = breakage(folder)
    result, problems, _summary = check(runner, folder)
    assert result.exit_code == 1, result.output
    for path, line, message in expected:
        assert any(
            (p_path, p_line) == (str(folder / path), line) and p_message.startswith(message)
            for p_path, p_line, p_message in problems
        ), (path, line, message, problems)


ERRORS = [
    _html_block,
    _inline_html_on_a_paragraphs_second_line,
    _inline_html_and_an_image_over_two_lines,
    _javascript_link,
    _link_to_a_missing_module,
    _link_to_a_missing_asset,
    _links_escaping_the_program,
    _unknown_program_key_with_a_suggestion,
    _negative_module_opens_days_before,
    _module_opens_days_before_beyond_a_year,
    _module_opens_days_before_not_a_number,
    _asset_too_big,
]


@pytest.mark.parametrize("breakage", ERRORS, ids=lambda f: f.__name__.strip("_"))
def test_check_reports_each_error_at_its_path_and_line(runner, folder, breakage):
    expected = breakage(folder)
    result, problems, summary = check(runner, folder)
    assert result.exit_code == 1, result.output
    assert summary == f"1 program(s) checked: {len(expected)} error(s), 0 warning(s)"
    for (rel, line, message), (path, got_line, got_message) in zip(expected, problems, strict=True):
        assert (path, got_line) == (str(folder / rel), line), result.output
        assert got_message.startswith(message), result.output


def _facilitator_fence_spelled_differently(folder):
    path = folder / MODULE_1
    edit(path, "```facilitator\n", "```Facilitator notes\n")
    return (
        MODULE_1,
        line_of(path, "```Facilitator notes"),
        "warning: write the fence as ```facilitator (found ```Facilitator notes); "
        "it is treated as facilitator notes",
    )


def _top_level_heading(folder):
    path = folder / MODULE_2
    edit(path, "## What trafficking means\n", "# What trafficking means\n")
    return (
        MODULE_2,
        line_of(path, "# What trafficking means"),
        "warning: use '##' for headings: the module title is already shown above the text",
    )


def _asset_of_a_type_not_served(folder):
    (folder / "assets" / "diagram.svg").write_text('<svg onload="alert(1)"></svg>')
    return (
        "assets/diagram.svg",
        1,
        "warning: this file type is not served to participants; "
        "use .gif, .jpeg, .jpg, .pdf, .png, .webp",
    )


@pytest.mark.parametrize(
    "breakage",
    [_facilitator_fence_spelled_differently, _top_level_heading, _asset_of_a_type_not_served],
    ids=lambda f: f.__name__.strip("_"),
)
def test_check_warns_without_failing(runner, folder, breakage):
    rel, line, message = breakage(folder)
    result, problems, summary = check(runner, folder)
    assert result.exit_code == 0, result.output
    assert summary == "1 program(s) checked: 0 error(s), 1 warning(s)"
    assert problems == [(str(folder / rel), line, message)]


def test_a_warned_fence_is_still_kept_from_participants(folder):
    edit(folder / MODULE_1, "```facilitator\n", "```Facilitator notes\n")
    [result] = sync_curricula(folder.parent)
    assert result.created, result.problems
    [first] = [m for m in result.version.modules if m.session_number == 1]
    assert NOTES in first.facilitator_notes_html
    assert NOTES not in first.body_html


def test_an_unserved_asset_is_not_stored(folder):
    (folder / "assets" / "diagram.svg").write_text('<svg onload="alert(1)"></svg>')
    [result] = sync_curricula(folder.parent)
    assert result.created
    assert sorted(a.path for a in result.version.assets) == ["week-plan.png"]


# --- the HTML stored for a module ---------------------------------------------------------


def module_of(version: CurriculumVersion, number: int) -> Module:
    module = version.module(number)
    assert module is not None
    return module


def test_links_between_modules_and_to_assets_are_stored_relative(program):
    first = module_of(program.latest_version, 1)
    assert '<a href="2#who-is-in-prostitution"' in first.body_html
    assert '<img src="assets/week-plan.png" alt="The weeks of the course"' in first.body_html
    # Nothing the author wrote as a path, and no version or cohort id, reaches the page.
    assert ".md" not in first.body_html
    assert "../assets" not in first.body_html
    second = module_of(program.latest_version, 2)
    assert '<h2 id="who-is-in-prostitution">Who is in prostitution</h2>' in second.body_html


def test_the_table_of_contents_is_stored_from_the_headings(program):
    for module in program.latest_version.modules:
        body, _notes = render.split_facilitator_notes(module.body_markdown)
        headings = re.findall(r"^## (.+)$", body, re.M)
        assert headings
        assert [e["title"] for e in module.toc if e["level"] == 2] == headings
        for entry in module.toc:
            assert f'<h{entry["level"]} id="{entry["id"]}">' in module.body_html
    first = module_of(program.latest_version, 1)
    assert first.toc[0] == {"level": 2, "id": "welcome", "title": "Welcome"}


def test_contents_entries_are_the_words_the_reader_sees(folder):
    edit(
        folder / MODULE_1,
        "## The law\n",
        "## The **law** &amp; [`you`](https://www.justice.gov/)\n",
    )
    [result] = sync_curricula(folder.parent)
    assert result.created, [str(p) for p in result.problems]
    first = module_of(result.version, 1)
    [entry] = [e for e in first.toc if e["id"].startswith("the-law")]
    assert entry["title"] == "The law & you"
    assert f'<h2 id="{entry["id"]}">The <strong>law</strong> &amp; <a href=' in first.body_html


ALERTS = """\
> [!WARNING]
> Phones stay off during the group.

> [!NOTE]
> Bring your notebook.

The law is in the court's order.[^order]

[^order]: The order the judge signed at your hearing.

"""


def _with_alerts(folder, language: str | None = None):
    edit(folder / MODULE_1, "## The law\n\n", "## The law\n\n" + ALERTS)
    if language:
        edit(folder / "program.yaml", "language: en", f"language: {language}")
    [result] = sync_curricula(folder.parent)
    assert result.created, [str(p) for p in result.problems]
    return module_of(result.version, 1).body_html


def test_alerts_and_footnotes_are_stored_as_html(folder):
    html = _with_alerts(folder)
    assert (
        '<div class="markdown-alert markdown-alert-warning">\n'
        '<p class="markdown-alert-title">Warning</p>\n'
        "<p>Phones stay off during the group.</p>\n</div>"
    ) in html
    assert '<div class="markdown-alert markdown-alert-note">' in html
    assert '<p class="markdown-alert-title">Note</p>' in html
    assert '<sup class="footnote-ref"><a href="#fn1" id="fnref1"' in html
    assert '<section class="footnotes">' in html
    assert '<li id="fn1" class="footnote-item"><p>The order the judge signed' in html
    assert "[!WARNING]" not in html


def test_alert_titles_are_in_spanish_for_a_spanish_program(folder):
    html = _with_alerts(folder, language="es")
    assert '<p class="markdown-alert-title">Advertencia</p>' in html
    assert '<p class="markdown-alert-title">Nota</p>' in html
    assert "Warning" not in html
    # Only the alert's title is translated; the author's words stay as written.
    assert "<p>Phones stay off during the group.</p>" in html


def test_the_opening_days_are_stored_with_the_version(folder):
    edit(
        folder / "program.yaml",
        'version: "2026.1"\n',
        'version: "2026.1"\nmodule_opens_days_before: 3\n',
    )
    [result] = sync_curricula(folder.parent)
    assert result.created
    assert result.version.module_opens_days_before == 3


# --- assets ---------------------------------------------------------------------------------


def test_a_participant_gets_his_courses_asset(app, make_enrollment):
    enrollment = make_enrollment()
    db.session.commit()
    client = signed_in(app, enrollment.participant)
    response = client.get("/me/modules/assets/week-plan.png")
    assert response.status_code == 200
    assert response.data == PNG
    assert response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "private" in response.headers["Cache-Control"]
    # The stored HTML's relative src resolves, from the module page, to this URL.
    page = text_of(client.get("/me/modules/1"))
    assert 'src="assets/week-plan.png"' in page
    for missing in ("nope.png", "../week-plan.png", "assets/week-plan.png", "%2e%2e/program.yaml"):
        assert client.get(f"/me/modules/assets/{missing}").status_code == 404, missing


def test_an_asset_is_served_to_the_cohorts_own_facilitator_only(app, make_user, make_cohort):
    mine, theirs = make_user(Role.FACILITATOR), make_user(Role.FACILITATOR)
    cohort = make_cohort(facilitator=theirs)
    make_cohort(facilitator=mine)
    db.session.commit()
    url = f"/facilitator/cohorts/{cohort.id}/modules/assets/week-plan.png"

    other = signed_in(app, mine)
    assert other.get(url).status_code == 404
    assert other.get(f"/facilitator/cohorts/{cohort.id}/modules/1").status_code == 404

    own = signed_in(app, theirs)
    response = own.get(url)
    assert (response.status_code, response.data, response.mimetype) == (200, PNG, "image/png")
    assert own.get(f"/facilitator/cohorts/{cohort.id}/modules/assets/nope.png").status_code == 404


# --- modules open on schedule ---------------------------------------------------------------


def test_a_module_is_locked_until_it_opens(app, make_enrollment, make_cohort):
    cohort = make_cohort(start=today() + timedelta(days=14))  # every session in the future
    enrollment = make_enrollment(cohort=cohort)
    db.session.commit()
    client = signed_in(app, enrollment.participant)

    for number in (1, 2, 3):
        response = client.get(f"/me/modules/{number}")
        page = text_of(response)
        assert response.status_code == 403, number
        assert "This module is not open yet. It opens on" in page
        assert module_of(cohort.version, number).title in page
        assert module_of(cohort.version, number).body_html[:80] not in page
    assert client.get("/me/modules/1?print=1").status_code == 403
    assert client.get("/me/modules/4").status_code == 404

    prompt = prompts_by_key(enrollment)["the-person-on-the-other-side"]
    response = client.get(f"/me/reflections/{prompt.id}")
    assert response.status_code == 403
    assert "opens on" in text_of(response)
    token = csrf_token(client, "/me/")
    response = client.post(
        f"/me/reflections/{prompt.id}",
        data={"text": answer("Zqearly", 120), "revision": "0", "submit": "1", "csrf_token": token},
    )
    assert response.status_code == 403
    assert not db.session.scalars(
        sa.select(Reflection).where(Reflection.enrollment_id == enrollment.id)
    ).all()

    modules = text_of(client.get("/me/modules"))
    assert modules.count("Not open yet") == 3
    assert 'href="/me/modules/' not in modules  # nothing to open yet
    assert '<li class="is-next">' in modules
    assert modules.count('<span class="badge badge-info">Next</span>') == 1


def test_a_module_opens_the_set_number_of_days_before_its_session(
    app, make_enrollment, make_cohort
):
    cohort = make_cohort(start=today() + timedelta(days=14))
    enrollment = make_enrollment(cohort=cohort)
    cohort.version.module_opens_days_before = 15  # module 1 opened a day ago; module 2 in 6 days
    db.session.commit()
    first, second = module_of(cohort.version, 1), module_of(cohort.version, 2)
    session = curriculum_service.session_for(cohort, first)
    opens = curriculum_service.opens_at(cohort, first)
    assert opens == session.scheduled_at - timedelta(days=15)
    assert curriculum_service.is_open(cohort, first, now=opens)
    assert not curriculum_service.is_open(cohort, first, now=opens - timedelta(seconds=1))

    client = signed_in(app, enrollment.participant)
    assert client.get("/me/modules/1").status_code == 200
    assert client.get("/me/modules/2").status_code == 403
    prompts = prompts_by_key(enrollment)
    assert client.get(f"/me/reflections/{prompts['what-happened'].id}").status_code == 200
    assert client.get(f"/me/reflections/{prompts['behind-the-mask'].id}").status_code == 403
    assert not curriculum_service.is_open(cohort, second)


def test_the_module_list_shows_what_is_open_and_what_is_next(app, make_enrollment, make_cohort):
    # Sessions 10 and 3 days ago, and in 4 days.
    cohort = make_cohort(start=today() - timedelta(days=10))
    enrollment = make_enrollment(cohort=cohort)
    db.session.commit()
    client = signed_in(app, enrollment.participant)
    assert client.get("/me/modules/1").status_code == 200
    assert client.get("/me/modules/2").status_code == 200
    assert client.get("/me/modules/3").status_code == 403

    page = text_of(client.get("/me/modules"))
    rows = re.findall(r"<li class=\"(?:is-next)?\">(.*?)</li>", page, re.S)
    assert len(rows) == 3
    assert 'href="/me/modules/1"' in rows[0] and 'href="/me/modules/2"' in rows[1]
    assert 'href="/me/modules/3"' not in rows[2]
    assert "Not open yet" not in rows[0] + rows[1]
    assert "Not open yet" in rows[2]
    assert "Next" not in rows[0] + rows[1]
    assert '<span class="badge badge-info">Next</span>' in rows[2]
    assert '<li class="is-next">' in page


def test_every_module_of_held_sessions_is_open(app, make_enrollment):
    enrollment = make_enrollment()  # sessions 8, 7 and 6 weeks ago
    db.session.commit()
    client = signed_in(app, enrollment.participant)
    for number in (1, 2, 3):
        assert client.get(f"/me/modules/{number}").status_code == 200
    assert "Not open yet" not in text_of(client.get("/me/modules"))


# --- the module pages -----------------------------------------------------------------------


def test_the_participants_module_page(app, make_enrollment):
    enrollment = make_enrollment()
    neighbour = make_enrollment(cohort=enrollment.cohort)
    submit_answer(enrollment, "what-happened", answer("Zqmyanswer", 120))
    submit_answer(neighbour, "what-happened", answer("Zqhisanswer", 120))
    db.session.commit()
    client = signed_in(app, enrollment.participant)
    page = text_of(client.get("/me/modules/1"))

    toc = page.split('<nav class="panel toc" aria-label="On this page">', 1)[1].split("</nav>")[0]
    assert '<li><a href="#welcome">Welcome</a></li>' in toc
    assert '<li><a href="#before-next-week">Before next week</a></li>' in toc
    assert '<a href="#reflections">Your reflections</a>' in toc
    assert 'id="reflections"' in page
    assert "Zqmyanswer" in page  # his own answer
    assert "Zqhisanswer" not in page  # never another man's
    assert 'href="/me/modules/1?print=1"' in page
    assert NOTES not in page and "Suggested timing" not in page


def test_the_printable_module_page(app, make_enrollment):
    enrollment = make_enrollment()
    db.session.commit()
    client = signed_in(app, enrollment.participant)
    response = client.get("/me/modules/1?print=1")
    assert response.status_code == 200
    page = text_of(response)
    assert 'class="site-header"' not in page
    assert 'aria-label="Main"' not in page
    assert 'href="/me/modules"' not in page
    assert "Why You Are Here" in page
    assert '<h2 id="welcome">Welcome</h2>' in page
    for prompt in module_of(enrollment.cohort.version, 1).prompts:
        assert str(escape(prompt.text)) in page  # as Jinja escapes it
    assert "version 2026.1" in page
    assert NOTES not in page
    assert "Printable version" not in page


def test_the_facilitator_sees_the_notes_and_the_participant_never(app, make_enrollment):
    enrollment = make_enrollment()
    db.session.commit()
    facilitator = signed_in(app, enrollment.cohort.facilitators[0])
    cohort_id = enrollment.cohort.id
    for url in (
        f"/facilitator/cohorts/{cohort_id}/modules/1",
        f"/facilitator/cohorts/{cohort_id}/modules/1?print=1",
    ):
        page = text_of(facilitator.get(url))
        assert NOTES in page, url
        assert "Facilitator notes" in page
        assert "Suggested timing" in page
    page = text_of(facilitator.get(f"/facilitator/cohorts/{cohort_id}/modules/1"))
    assert f'href="/facilitator/cohorts/{cohort_id}/modules/1?print=1"' in page
    assert "what-happened" in page  # the prompt ids, for staff

    participant = signed_in(app, enrollment.participant)
    for url in ("/me/modules/1", "/me/modules/1?print=1", "/me/modules/2", "/me/modules/3"):
        page = text_of(participant.get(url))
        assert "Facilitator notes" not in page, url
        assert not re.search(r"SESSION \d -", page), url
        assert "Suggested timing" not in page, url


# --- a cohort keeps its version until the director moves it ---------------------------------

VERSION_B_TEXT = "Zqversionb: a paragraph the program staff added in the new version."


def new_version(folder: Path, label: str = "2026.2") -> CurriculumVersion:
    edit(folder / "program.yaml", 'version: "2026.1"', f'version: "{label}"')
    edit(folder / MODULE_1, "## Welcome\n\n", f"## Welcome\n\n{VERSION_B_TEXT}\n\n")
    (folder / "assets" / "week-plan.png").write_bytes(PNG + b"version b")
    [result] = sync_curricula(folder.parent)
    assert result.created, [str(p) for p in result.problems]
    assert result.changes == ["module 1 edited: Why You Are Here"]
    return result.version


def move_form(client, cohort_id: int, version_id: int, reason: str):
    url = f"/admin/cohorts/{cohort_id}"
    token = csrf_token(client, url)
    return client.post(
        url, data={"version_id": str(version_id), "reason": reason, "csrf_token": token}
    )


def test_a_cohort_stays_on_its_version_until_moved(
    app, program, folder, make_user, make_enrollment
):
    enrollment = make_enrollment()
    cohort = enrollment.cohort
    a = cohort.version
    facilitator = complete_case(enrollment)
    b = new_version(folder)
    assert program.latest_version is b
    assert b.loaded_at > a.loaded_at
    admin = make_user(Role.ADMIN)
    db.session.commit()

    me = signed_in(app, enrollment.participant)
    assert VERSION_B_TEXT not in text_of(me.get("/me/modules/1"))
    assert "version 2026.1" in text_of(me.get("/me/modules"))
    assert me.get("/me/modules/assets/week-plan.png").data == PNG

    cert = certificate_service.issue(enrollment, facilitator)
    db.session.commit()
    reader = PdfReader(BytesIO(cert.pdf))
    text = " ".join(page.extract_text() for page in reader.pages)
    # The version taken is named in the document's metadata, not on the page (issue 14:
    # the page goes into a public court file).
    assert "curriculum-version:2026.1" in reader.metadata["/Keywords"]
    assert "2026.2" not in text and "2026.2" not in reader.metadata["/Keywords"]
    answers = {r.prompt.key: r.latest_attempt.text for r in enrollment.reflections}

    director = signed_in(app, admin)
    page = text_of(director.get(f"/admin/cohorts/{cohort.id}"))
    assert "Move to a newer version" in page
    assert f'<option value="{b.id}">2026.2 ({b.short_hash})' in page
    assert f'<option value="{a.id}"' not in page
    response = move_form(director, cohort.id, b.id, "The staff rewrote the welcome.")
    assert response.status_code == 302, text_of(response)
    page = text_of(director.get(response.headers["Location"]))
    assert "moved from version 2026.1 to 2026.2" in page
    assert "This cohort is on the newest version of its program." in page

    db.session.expire_all()
    assert cohort.version_id == b.id
    assert all(s.module.version_id == b.id for s in cohort.sessions)
    assert VERSION_B_TEXT in text_of(me.get("/me/modules/1"))
    assert me.get("/me/modules/assets/week-plan.png").data == PNG + b"version b"
    # His answers moved with him to the new version's prompts of the same ids.
    moved = {r.prompt.key: r for r in enrollment.reflections}
    assert {k: r.latest_attempt.text for k, r in moved.items()} == answers
    assert all(r.prompt.module.version_id == b.id for r in moved.values())
    page = text_of(me.get("/me/modules/1"))
    assert answers["what-happened"].split()[0] in page
    # The certificate still names the version he took.
    assert cert.version_id == a.id

    [event] = events("cohort.move_version")
    assert (event.actor_id, event.object_type, event.object_id) == (admin.id, "cohort", cohort.id)
    assert event.details == {
        "from": "2026.1",
        "to": "2026.2",
        "reason": "The staff rewrote the welcome.",
    }


def test_a_move_to_an_older_or_foreign_version_is_refused(
    app, program, folder, curricula_copy, make_user, make_cohort
):
    cohort = make_cohort()
    a = cohort.version
    b = new_version(folder)
    other_folder = curricula_copy / "another-program"
    shutil.copytree(folder, other_folder)
    edit(other_folder / "program.yaml", "code: AAC", "code: OTH")
    results = {r.slug: r for r in sync_curricula(curricula_copy)}
    foreign = results["another-program"].version
    assert foreign.program_id != a.program_id
    admin = make_user(Role.ADMIN)
    db.session.commit()

    director = signed_in(app, admin)
    # The form offers newer versions of the cohort's own program only, and refuses others.
    for refused in (a, foreign):
        response = move_form(director, cohort.id, refused.id, "Try it.")
        assert response.status_code == 200
        assert "Not a valid choice" in text_of(response)
    response = move_form(director, cohort.id, b.id, "")
    assert "Give the reason." in text_of(response)
    db.session.expire_all()
    assert cohort.version_id == a.id

    # The service refuses the same, in words, whoever calls it.
    with pytest.raises(ServiceError, match="only move to a version of its own program"):
        curriculum_service.move_cohort(cohort, foreign, admin, "Another program.")
    with pytest.raises(ServiceError, match="already on version 2026.1"):
        curriculum_service.move_cohort(cohort, a, admin, "Same.")
    curriculum_service.move_cohort(cohort, b, admin, "Newer.")
    with pytest.raises(ServiceError, match="can only move to a newer version"):
        curriculum_service.move_cohort(cohort, a, admin, "Back again.")
    assert cohort.version is b

    # Once on the newest version, the page says so and offers no form.
    db.session.commit()
    page = text_of(director.get(f"/admin/cohorts/{cohort.id}"))
    assert "This cohort is on the newest version of its program." in page
    assert 'name="version_id"' not in page


def test_a_version_missing_a_scheduled_session_is_refused_with_a_message(
    app, folder, make_user, make_cohort
):
    cohort = make_cohort()
    (folder / "modules" / "03-why-men-buy.md").unlink()
    edit(folder / "program.yaml", "sessions_required: 3", "sessions_required: 2")
    [result] = sync_curricula(folder.parent)
    assert result.created, [str(p) for p in result.problems]
    admin = make_user(Role.ADMIN)
    db.session.commit()
    director = signed_in(app, admin)
    response = move_form(director, cohort.id, result.version.id, "Shorter course.")
    assert response.status_code == 200
    assert (
        "Version 2026.1 has no module for session(s) 3 that this cohort has scheduled."
        in text_of(response)
    )
    db.session.expire_all()
    assert cohort.version_id != result.version.id


# --- sync stores once; pages read what it stored ------------------------------------------


def _counts(program) -> tuple[int, ...]:
    version_ids = sa.select(CurriculumVersion.id).where(CurriculumVersion.program_id == program.id)
    module_ids = sa.select(Module.id).where(Module.version_id.in_(version_ids))
    return tuple(
        db.session.scalar(sa.select(sa.func.count()).select_from(model).where(where))
        for model, where in (
            (CurriculumVersion, CurriculumVersion.program_id == program.id),
            (Module, Module.version_id.in_(version_ids)),
            (ReflectionPrompt, ReflectionPrompt.module_id.in_(module_ids)),
            (CurriculumAsset, CurriculumAsset.version_id.in_(version_ids)),
        )
    )


def test_a_second_sync_stores_nothing_new(program, folder):
    new_version(folder)
    after_first = _counts(program)
    [again] = sync_curricula(folder.parent)
    assert not again.created
    assert again.changes == []
    assert _counts(program) == after_first


def test_module_pages_are_served_from_stored_html(app, make_enrollment, monkeypatch):
    enrollment = make_enrollment()
    db.session.commit()

    def no_rendering(*args, **kwargs):
        raise AssertionError("module Markdown rendered during a request")

    for target, name in [
        (render, "render_module"),
        (render, "_render_with_links"),
        (render, "split_facilitator_notes"),
        (sync, "render_module"),
    ]:
        monkeypatch.setattr(target, name, no_rendering)

    participant = signed_in(app, enrollment.participant)
    for url in ("/me/modules/1", "/me/modules/1?print=1", "/me/modules"):
        response = participant.get(url)
        assert response.status_code == 200, url
    assert "2#who-is-in-prostitution" in text_of(participant.get("/me/modules/1"))

    facilitator = signed_in(app, enrollment.cohort.facilitators[0])
    response = facilitator.get(f"/facilitator/cohorts/{enrollment.cohort.id}/modules/1")
    assert response.status_code == 200
    assert NOTES in text_of(response)
