"""Curricula: `curriculum check` reports problems as path:line: message, rendering keeps
facilitator notes and scripts away from participants, and sync stores versions only on change."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from intervention.curriculum.render import render_markdown, render_module
from intervention.curriculum.sync import sync_curricula
from intervention.extensions import db
from intervention.models import CurriculumVersion, Program

from .conftest import FIXTURE_CURRICULA, ROOT
from .helpers import live_markup, signed_in, text_of

PROGRAM_YAML = """\
title: "Test Program"
code: TST
version: "1"
description: A short program for tests.
policy:
  sessions_required: 2
  max_absences: 0
"""

MODULE = """\
---
session: {session}
title: "{title}"
duration_minutes: 60
reflection:
  - id: {prompt_id}
    text: "What did you learn this week?"
    min_words: 10
resources:
  - title: "A hotline"
    url: "https://example.org/help"
---
## {title}

Some reading for the week.
"""

PROBLEM_LINE = re.compile(r"^(?P<path>\S+):(?P<line>\d+): (?P<message>.+)$")


@pytest.fixture
def program_dir(tmp_path) -> Path:
    """A small valid program: two sessions, one prompt each."""
    folder = tmp_path / "test-program"
    (folder / "modules").mkdir(parents=True)
    (folder / "program.yaml").write_text(PROGRAM_YAML)
    write_module(folder, 1, "First week", "first-prompt")
    write_module(folder, 2, "Second week", "second-prompt")
    return folder


def write_module(folder: Path, session: int, title: str, prompt_id: str) -> Path:
    path = folder / "modules" / f"{session:02d}-{title.lower().replace(' ', '-')}.md"
    path.write_text(MODULE.format(session=session, title=title, prompt_id=prompt_id))
    return path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def check(runner, folder: Path):
    """Run `curriculum check` on the folder; return the result and its problem lines."""
    result = runner.invoke(args=["curriculum", "check", str(folder)])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert lines, "check printed nothing"
    assert re.fullmatch(r"1 program\(s\) checked: \d+ error\(s\), \d+ warning\(s\)", lines[-1])
    problems = []
    for line in lines[:-1]:
        match = PROBLEM_LINE.match(line)
        assert match, f"not a path:line: message line: {line!r}"
        problems.append((match["path"], int(match["line"]), match["message"]))
    return result, problems


# --- check ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "root", [ROOT / "curricula", FIXTURE_CURRICULA], ids=["shipped", "fixture"]
)
def test_the_curricula_check_clean(runner, root):
    result = runner.invoke(args=["curriculum", "check", str(root)])
    assert result.exit_code == 0, result.output
    programs = len([p for p in root.iterdir() if (p / "program.yaml").exists()])
    assert result.output.strip().endswith(
        f"{programs} program(s) checked: 0 error(s), 0 warning(s)"
    )


def test_a_valid_program_checks_clean(runner, program_dir):
    result, problems = check(runner, program_dir)
    assert (result.exit_code, problems) == (0, [])


def _yaml_does_not_parse(folder):
    edit(folder / "program.yaml", "description: A short", "description: a: short")
    return "program.yaml", 4, "YAML does not parse: mapping values are not allowed here"


def _front_matter_does_not_parse(folder):
    edit(folder / "modules/02-second-week.md", "duration_minutes: 60", "duration_minutes: 6: 0")
    return "modules/02-second-week.md", 4, "YAML does not parse: mapping values are not allowed"


def _unknown_key(folder):
    edit(folder / "program.yaml", 'version: "1"', 'version: "1"\nlanguag: en')
    return "program.yaml", 4, "unknown key 'languag' in program.yaml (did you mean 'language'?)"


def _unknown_policy_key(folder):
    edit(folder / "program.yaml", "max_absences: 0", "max_absense: 0")
    return "program.yaml", 7, "unknown key 'max_absense' in policy (did you mean 'max_absences'?)"


def _unknown_module_key(folder):
    edit(
        folder / "modules/01-first-week.md",
        "duration_minutes: 60",
        "duration_minutes: 60\nobjective: []",
    )
    return "modules/01-first-week.md", 5, "unknown key 'objective' in front matter (did you mean"


def _missing_title(folder):
    edit(folder / "program.yaml", 'title: "Test Program"\n', "")
    return "program.yaml", 1, "program.yaml is missing 'title'"


def _missing_module_title(folder):
    edit(folder / "modules/02-second-week.md", 'title: "Second week"\n', "")
    return "modules/02-second-week.md", 2, "front matter is missing 'title'"


def _duplicate_session(folder):
    edit(folder / "modules/02-second-week.md", "session: 2", "session: 1")
    return "modules/02-second-week.md", 2, "session 1 is also used by modules/01-first-week.md"


def _duplicate_prompt_id(folder):
    edit(folder / "modules/02-second-week.md", "id: second-prompt", "id: first-prompt")
    return "modules/02-second-week.md", 6, "prompt id 'first-prompt' is also used in modules/01"


def _empty_prompt_text(folder):
    edit(folder / "modules/01-first-week.md", '"What did you learn this week?"', '"  "')
    return "modules/01-first-week.md", 7, "reflection prompt 1 has an empty text"


def _more_sessions_required_than_modules(folder):
    edit(folder / "program.yaml", "sessions_required: 2", "sessions_required: 5")
    return "program.yaml", 6, "policy requires 5 sessions but the program has only 2 modules"


def _not_utf8(folder):
    path = folder / "modules/02-second-week.md"
    path.write_bytes(path.read_bytes().replace(b"Some reading", b"Caf\xe9 reading"))
    return "modules/02-second-week.md", 1, "file is not UTF-8 text (byte"


def _program_not_utf8(folder):
    path = folder / "program.yaml"
    path.write_bytes(path.read_bytes().replace(b"A short", b"\xa0short"))
    offset = path.read_bytes().index(b"\xa0")
    return "program.yaml", 1, f"file is not UTF-8 text (byte {offset})"


def _front_matter_not_closed(folder):
    path = folder / "modules/02-second-week.md"
    path.write_text(path.read_text().replace("---\n## ", "## ", 1))
    return "modules/02-second-week.md", 1, "front matter is not closed: add a '---' line after it"


def _no_front_matter(folder):
    path = folder / "modules/02-second-week.md"
    path.write_text("## Just a heading\n\nNo front matter.\n")
    return "modules/02-second-week.md", 1, "a module must start with front matter"


def _session_not_a_number(folder):
    edit(folder / "modules/01-first-week.md", "session: 1", 'session: "one"')
    return "modules/01-first-week.md", 2, "'session' must be a whole number, not 'one'"


def _policy_not_a_number(folder):
    edit(folder / "program.yaml", "max_absences: 0", "max_absences: lots")
    return "program.yaml", 7, "policy 'max_absences' must be a whole number, 0 or more, not 'lots'"


def _script_resource(folder):
    edit(folder / "modules/01-first-week.md", "https://example.org/help", "javascript:alert(1)")
    return "modules/01-first-week.md", 10, "resource 1: url must start with https://"


def _module_without_body(folder):
    path = folder / "modules/02-second-week.md"
    path.write_text(path.read_text().split("---\n## ")[0] + "---\n\n")
    return "modules/02-second-week.md", 13, "the module has no text after its front matter"


BROKEN = [
    _yaml_does_not_parse,
    _front_matter_does_not_parse,
    _unknown_key,
    _unknown_policy_key,
    _unknown_module_key,
    _missing_title,
    _missing_module_title,
    _duplicate_session,
    _duplicate_prompt_id,
    _empty_prompt_text,
    _more_sessions_required_than_modules,
    _not_utf8,
    _program_not_utf8,
    _front_matter_not_closed,
    _no_front_matter,
    _session_not_a_number,
    _policy_not_a_number,
    _script_resource,
    _module_without_body,
]


@pytest.mark.parametrize("breakage", BROKEN, ids=lambda f: f.__name__.strip("_"))
def test_a_broken_program_is_reported_as_path_line_message(runner, program_dir, breakage):
    file, line, message = breakage(program_dir)
    result, problems = check(runner, program_dir)
    assert result.exit_code == 1
    expected_path = str(program_dir / file)
    matching = [p for p in problems if p[0] == expected_path and message in p[2]]
    assert matching, f"want {expected_path}:{line}: {message}\ngot:\n{result.output}"
    assert matching[0][1] == line, result.output
    assert all(Path(path).is_relative_to(program_dir) for path, _, _ in problems)


@pytest.mark.parametrize(
    "program_yaml",
    [
        "- a list\n- not a mapping\n",
        "title: [unclosed\n",
        "policy: [1, 2]\nrubric: 5\ntitle: 7\n",
        "[" * 500,
        "",
    ],
    ids=["list", "unclosed", "wrong-types", "deep-nesting", "empty"],
)
def test_nothing_in_a_file_raises_out_of_check(runner, program_dir, program_yaml):
    (program_dir / "program.yaml").write_text(program_yaml)
    result, problems = check(runner, program_dir)
    assert result.exit_code == 1
    assert problems


def test_check_of_a_missing_folder_says_so(runner, tmp_path):
    result = runner.invoke(args=["curriculum", "check", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert "no such file or folder" in result.output
    assert "Traceback" not in result.output


# --- rendering ----------------------------------------------------------------------------------


def test_facilitator_notes_never_reach_the_participant_body(program):
    modules = program.latest_version.modules
    assert len(modules) == 3
    for module in modules:
        notes = re.search(r"```facilitator\n(.*?)```", module.body_markdown, re.S).group(1)
        distinctive = [line.strip() for line in notes.splitlines() if len(line.split()) >= 6]
        assert distinctive
        assert module.facilitator_notes_html
        for line in distinctive:
            first_words = " ".join(line.lstrip("-*> ").split()[:5])
            if re.fullmatch(r"[\w ,.:;]+", first_words):  # no characters HTML would escape
                assert first_words in module.facilitator_notes_html, first_words
            assert first_words not in module.body_html, (module.session_number, first_words)
    first = modules[0]
    assert "SESSION 1 - WHY YOU ARE HERE" in first.facilitator_notes_html
    assert "SESSION 1 - WHY YOU ARE HERE" not in first.body_html
    assert '<h2 id="welcome">Welcome</h2>' in first.body_html


def test_participant_module_page_has_no_facilitator_notes(app, make_enrollment):
    enrollment = make_enrollment()
    db.session.commit()
    client = signed_in(app, enrollment.participant)
    for number in (1, 2, 3):
        page = text_of(client.get(f"/me/modules/{number}"))
        assert "<h2>" in page
        assert f"SESSION {number} -" not in page
        assert "Suggested timing" not in page


TRICKY_NOTES = """\
Intro for everyone.

~~~facilitator
Tilde notes Zqnoteone
~~~

> ```facilitator
> Quoted notes Zqnotetwo
> ```

- A list item

  ```facilitator
  Listed notes Zqnotethree
  ```

````facilitator
Outer notes Zqnotefour
```
an inner fence Zqnotefive
```
````

Closing words for everyone.
"""


def test_facilitator_notes_in_any_fence_form_are_cut_from_the_body(program_dir):
    module = program_dir / "modules/01-first-week.md"
    head = module.read_text().split("## First week")[0]
    rendered = render_module(TRICKY_NOTES)
    assert "Intro for everyone." in rendered.body_html
    assert "Closing words for everyone." in rendered.body_html
    for marker in ["Zqnoteone", "Zqnotetwo", "Zqnotethree", "Zqnotefour", "Zqnotefive"]:
        assert marker not in rendered.body_html, marker
        assert marker in rendered.notes_html, marker
    # Issue 13: the checker refuses every form but a top-level ```facilitator fence (tilde,
    # quoted, listed), so the sync stores no version; four backticks around a sample is fine.
    module.write_text(head + TRICKY_NOTES)
    [result] = sync_curricula(program_dir.parent)
    assert result.version is None
    first = head.count("\n") + 1
    assert sorted((p.line - first, p.message.split(":")[0]) for p in result.problems) == [
        (2, "facilitator notes fenced with ~~~"),
        (6, "facilitator notes inside a list, block quote or footnote"),
        (12, "facilitator notes inside a list, block quote or footnote"),
    ]


HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<a href="#" onclick="alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[ref][x]\n\n[x]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "![x](javascript:alert(1))",
    '![x](x.png" onerror="alert(1))',
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<iframe src="https://evil.example"></iframe>',
    "<svg onload=alert(1)>",
    '<div style="background:url(javascript:alert(1))">x</div>',
]


@pytest.mark.parametrize("markdown", HOSTILE)
def test_scripts_never_survive_rendering(markdown):
    html = render_markdown(f"Some text.\n\n{markdown}\n\nMore text.")
    for tag, attrs in live_markup(html):
        assert tag not in {"script", "iframe", "svg", "object", "embed", "style"}, html
        for name, value in attrs.items():
            assert not name.startswith("on"), html
            assert name != "style", html
            if name in {"href", "src"}:
                assert re.match(r"(https?:|mailto:|#|[^:]*$)", value or ""), html
    assert "<script" not in html.lower()
    assert (
        "javascript:"
        not in " ".join(v or "" for _, attrs in live_markup(html) for v in attrs.values()).lower()
    )


def test_safe_markdown_still_renders():
    html = render_markdown(
        "## Help\n\n**Call** [988](https://988lifeline.org/) or "
        "[write](mailto:help@example.org).\n\n| a | b |\n| - | - |\n| 1 | 2 |\n"
    )
    assert "<h2>Help</h2>" in html
    assert "<strong>Call</strong>" in html
    assert '<a href="https://988lifeline.org/" rel="noopener noreferrer">988</a>' in html
    assert 'href="mailto:help@example.org"' in html
    assert "<table>" in html


def test_a_hostile_module_is_refused_by_the_checker_and_harmless_if_rendered(program_dir):
    module = program_dir / "modules/02-second-week.md"
    module.write_text(module.read_text() + "\n" + "\n\n".join(HOSTILE) + "\n")
    [result] = sync_curricula(program_dir.parent)
    assert result.version is None
    messages = " ".join(p.message for p in result.problems)
    assert "raw HTML is not allowed" in messages
    assert "links starting with 'javascript:' are not allowed" in messages
    # Even were it stored, the renderer's allow-list would leave nothing live.
    html = render_module(module.read_text().split("---", 2)[2]).body_html
    for tag, attrs in live_markup(html):
        assert tag not in {"script", "iframe", "svg"}
        assert not any(name.startswith("on") for name in attrs)
        assert not (attrs.get("href") or "").lower().startswith("javascript")


# --- sync ---------------------------------------------------------------------------------------


def _versions(program: Program) -> list[CurriculumVersion]:
    return db.session.scalars(
        sa.select(CurriculumVersion)
        .where(CurriculumVersion.program_id == program.id)
        .order_by(CurriculumVersion.id)
    ).all()


def test_sync_of_unchanged_files_stores_nothing(program, curricula_copy):
    before = _versions(program)
    [result] = sync_curricula(curricula_copy)
    [again] = sync_curricula(curricula_copy)
    assert (result.created, again.created) == (False, False)
    assert result.version is program.latest_version
    assert _versions(program) == before


def test_a_changed_file_makes_a_new_version_and_says_what_changed(
    program, curricula_copy, make_cohort
):
    cohort = make_cohort()  # started on the current version
    old = program.latest_version
    stored_before = len(_versions(program))
    module = curricula_copy / "accountability-and-change/modules/01-why-you-are-here.md"
    edit(module, "## Welcome\n", "## Welcome\n\nA new paragraph from the program staff.\n")

    [result] = sync_curricula(curricula_copy)
    assert result.created
    assert result.changes == ["module 1 edited: Why You Are Here"]
    new = result.version
    assert new.content_hash != old.content_hash
    assert "A new paragraph from the program staff." in new.modules[0].body_html
    assert "A new paragraph" not in old.modules[0].body_html  # the old version is untouched
    assert cohort.version is old  # a running cohort keeps its version

    [again] = sync_curricula(curricula_copy)
    assert not again.created
    assert again.version.id == new.id

    edit(
        curricula_copy / "accountability-and-change/program.yaml",
        "max_gap_days: 21",
        "max_gap_days: 28",
    )
    [policy] = sync_curricula(curricula_copy)
    assert policy.created
    assert policy.changes == ["policy changed"]
    assert policy.version.policy["max_gap_days"] == 28
    assert len(_versions(program)) == stored_before + 2


def test_the_sync_command_reports_changes(app, runner, curricula_copy, monkeypatch):
    monkeypatch.setitem(app.config, "CURRICULA_PATH", str(curricula_copy))
    result = runner.invoke(args=["curriculum", "sync"])
    assert result.exit_code == 0
    assert re.fullmatch(r"accountability-and-change: unchanged \([0-9a-f]{12}\)\n", result.output)

    module = curricula_copy / "accountability-and-change/modules/03-why-men-buy.md"
    edit(module, 'title: "Why Men Buy"', 'title: "Why Some Men Buy"')
    result = runner.invoke(args=["curriculum", "sync"])
    assert result.exit_code == 0
    assert "accountability-and-change: new version 2026.1 (" in result.output
    assert "  - module 3 edited: Why Some Men Buy" in result.output

    (module.parent / "04-broken.md").write_text("no front matter\n")
    result = runner.invoke(args=["curriculum", "sync"])
    assert result.exit_code == 1
    assert "accountability-and-change: not loaded, fix these first:" in result.output
    assert "04-broken.md:1: a module must start with front matter" in result.output
