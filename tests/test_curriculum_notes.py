"""Facilitator notes never reach participants (issue 13, item 10). Over a corpus of nestings
(indented, in lists, quotes, footnotes and alerts, inside other fences, tilde fences, closed
early, never closed) `curriculum check` refuses every block of notes the renderer would not
cut as written, as `file:line: what is wrong`, and the renderer cuts the notes from the
participants' page wherever it finds them. A generated property ties the two together: a
module either checks clean and shows no notes to participants, or the checker refuses it."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from intervention.curriculum.render import (
    _answer_parser,
    is_facilitator_fence,
    notes_problems,
    render_module,
)

from .test_curriculum import check, program_dir  # noqa: F401  (program_dir: the fixture)

INTRO = "Intro for everyone.\n\n"
OUTRO = "\n\nClosing words for everyone.\n"


def block(*lines: str) -> str:
    return "\n".join(lines)


# (id, the notes as written, the line of the block the checker names (from 0) or None when
# the block is well formed, a words of its message, whether the renderer cuts the notes).
CORPUS = [
    ("top level", block("```facilitator", "Zsecret notes", "```"), None, None, True),
    (
        "four backticks around an inner fence",
        block("````facilitator", "Zsecret notes", "```", "a sample", "```", "````"),
        None,
        None,
        True,
    ),
    ("indented three spaces", block("   ```facilitator", "Zsecret", "   ```"), None, None, True),
    (
        "indented four spaces",
        block("    ```facilitator", "    Zsecret notes", "    ```"),
        0,
        "indented 4 spaces or more are a code block participants see",
        True,
    ),
    (
        "indented with a tab",
        block("\t```facilitator", "\tZsecret notes", "\t```"),
        0,
        "indented 4 spaces or more",
        True,
    ),
    (
        "in a block quote",
        block("> ```facilitator", "> Zsecret notes", "> ```"),
        0,
        "inside a list, block quote or footnote",
        True,
    ),
    (
        "in a quote in a quote",
        block("> > ```facilitator", "> > Zsecret notes", "> > ```"),
        0,
        "inside a list, block quote or footnote",
        True,
    ),
    (
        "in an alert",
        block("> [!NOTE]", "> ```facilitator", "> Zsecret notes", "> ```"),
        1,
        "inside a list, block quote or footnote",
        True,
    ),
    (
        "in a list item",
        block("- An item", "", "  ```facilitator", "  Zsecret notes", "  ```"),
        2,
        "inside a list, block quote or footnote",
        True,
    ),
    (
        "on a list marker",
        block("- ```facilitator", "  Zsecret notes", "  ```"),
        0,
        "inside a list, block quote or footnote",
        True,
    ),
    (
        "in an ordered list",
        block("1. ```facilitator", "   Zsecret notes", "   ```"),
        0,
        "inside a list, block quote or footnote",
        True,
    ),
    (
        "in a list in a quote",
        block("> - ```facilitator", ">   Zsecret notes", ">   ```"),
        0,
        "inside a list, block quote or footnote",
        True,
    ),
    (
        "indented into a code block in a list",
        block("- An item", "", "      ```facilitator", "      Zsecret notes", "      ```"),
        2,
        "indented 4 spaces or more",
        True,
    ),
    (
        "in a footnote",
        block(
            "A word[^n].", "", "[^n]: A note.", "", "    ```facilitator", "    Zsecret", "    ```"
        ),
        4,
        "inside a list, block quote or footnote",
        True,
    ),
    (
        "inside another fence",
        block("````", "```facilitator", "Zsecret notes", "```", "````"),
        1,
        "inside another fenced block",
        True,
    ),
    (
        "inside a tilde fence",
        block("~~~", "```facilitator", "Zsecret notes", "```", "~~~"),
        1,
        "inside another fenced block",
        True,
    ),
    (
        "inside a fence in a list",
        block("- An item", "", "  ````text", "  ```facilitator", "  Zsecret notes", "  ````"),
        3,
        "inside another fenced block",
        True,
    ),
    (
        "tilde fence",
        block("~~~facilitator", "Zsecret notes", "~~~"),
        0,
        "fenced with ~~~",
        True,
    ),
    (
        "misspelled",
        block("```facilitators", "Zsecret notes", "```"),
        0,
        "```facilitators is not a facilitator fence",
        True,
    ),
    (
        "pandoc class",
        block("```{.facilitator}", "Zsecret notes", "```"),
        0,
        "is not a facilitator fence",
        True,
    ),
    (
        "never closed",
        block("```facilitator", "Zsecret notes"),
        0,
        "never closed",
        True,
    ),
    (
        "closed early by a fence inside",
        block("```facilitator", "Say:", "```text", "a sample", "```", "Zsecret notes", "```"),
        0,
        "a fence inside facilitator notes closes them early",
        False,
    ),
    (
        "closed by a longer fence",
        block("```facilitator", "Zfirst notes", "````", "Zsecret notes", "```", "```"),
        0,
        "close the ```facilitator block with ```",
        False,
    ),
    (
        "not a fence (a backtick after the word)",
        block("```facilitator `timing`", "Zsecret notes"),
        0,
        "is not a fence, so participants see it",
        True,
    ),
    (
        "after form feeds (lines Python counts that the parser does not)",
        block("A line\x0cwith\x0cform feeds", "", "```facilitator", "Zsecret", "Zsecret2", "```"),
        None,
        None,
        True,
    ),
]


def module_with(text: str) -> str:
    return INTRO + text + OUTRO


@pytest.mark.parametrize(
    ("notes", "line", "message", "cut"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS]
)
def test_the_checker_refuses_notes_it_would_not_cut(notes, line, message, cut):
    problems = notes_problems(module_with(notes))
    if line is None:
        assert problems == []
    else:
        at = line + INTRO.count("\n")
        assert any(n == at and message in text for n, text in problems), problems


@pytest.mark.parametrize(
    ("notes", "cut"), [(c[1], c[4]) for c in CORPUS if c[4]], ids=[c[0] for c in CORPUS if c[4]]
)
def test_the_renderer_cuts_notes_wherever_it_finds_them(notes, cut):
    rendered = render_module(module_with(notes))
    assert "Zsecret" not in rendered.body_html
    assert "facilitator" not in rendered.body_html.lower()
    assert "Intro for everyone." in rendered.body_html
    assert "Zsecret" in rendered.notes_html


def test_the_check_names_file_and_line(runner, program_dir):  # noqa: F811
    """The issue's case: a ```facilitator fence indented four spaces was shown to participants
    as a code block, and `curriculum check` said nothing."""
    module = program_dir / "modules/01-first-week.md"
    text = module.read_text()
    module.write_text(text + "\n    ```facilitator\n    Timing: 20 minutes.\n    ```\n")
    line = text.count("\n") + 2
    result, problems = check(runner, program_dir)
    assert result.exit_code == 1
    message = (
        "facilitator notes indented 4 spaces or more are a code block participants see: "
        "start the ```facilitator fence at the left margin"
    )
    assert [(n, m) for path, n, m in problems if path.endswith("01-first-week.md")] == [
        (line, message)
    ]


# --- generated nestings ----------------------------------------------------------------------

SECRET = "Zqsecret"
openers = st.sampled_from(["```", "````", "~~~", "`````"])
infos = st.sampled_from(
    ["facilitator", "Facilitator notes", "{facilitator}", " facilitator", "facilitators"]
)


def _wrap(kind: str, lines: list[str]) -> list[str]:
    match kind:
        case "quote":
            return [f"> {line}" for line in lines]
        case "bullet":
            return [f"- {lines[0]}", *(f"  {line}" for line in lines[1:])]
        case "ordered":
            return [f"1. {lines[0]}", *(f"   {line}" for line in lines[1:])]
        case "item paragraph":
            return ["- An item", "", *(f"  {line}" for line in lines)]
        case "indent 2":
            return [f"  {line}" for line in lines]
        case "indent 4":
            return [f"    {line}" for line in lines]
        case "tab":
            return [f"\t{line}" for line in lines]
        case "alert":
            return ["> [!TIP]", *(f"> {line}" for line in lines)]
        case "footnote":
            return ["See[^x].", "", "[^x]: A note.", "", *(f"    {line}" for line in lines)]
        case "fence":
            return ["````", *lines, "````"]
        case _:  # "tilde fence"
            return ["~~~~", *lines, "~~~~"]


WRAPPERS = [
    "quote",
    "bullet",
    "ordered",
    "item paragraph",
    "indent 2",
    "indent 4",
    "tab",
    "alert",
    "footnote",
    "fence",
    "tilde fence",
]


@st.composite
def notes_in_nestings(draw) -> str:
    opener = draw(openers)
    body = [f"{SECRET}{i} notes" for i in range(draw(st.integers(1, 3)))]
    if draw(st.booleans()):  # a sample inside the notes
        sample = draw(st.sampled_from(["```", "~~~", "```text", "````"]))
        body[1:1] = [sample, f"{SECRET}s sample", sample.removesuffix("text")]
    closer = draw(st.sampled_from([opener, opener, opener, "", opener + opener[0]]))
    lines = [opener + draw(infos), *body, *([closer] if closer else [])]
    for kind in draw(st.lists(st.sampled_from(WRAPPERS), max_size=3)):
        lines = _wrap(kind, lines)
    before = draw(st.sampled_from(["\n\n", "\n", "\n\x0c\n", "\r\n\r\n"]))
    after = draw(st.sampled_from(["\n\n", "\n", ""]))
    return "Intro for everyone." + before + "\n".join(lines) + after + "Closing words.\n"


NOTES_PROPERTY = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,  # the same examples on every run, so CI cannot flake on a new one
    suppress_health_check=[HealthCheck.too_slow],
)


@NOTES_PROPERTY
@given(module=notes_in_nestings())
@example(module=module_with(block("    ```facilitator", f"    {SECRET} notes", "    ```")))
@example(module=module_with(block("> ```facilitator", f"{SECRET} lazy line", "> ```")))
def test_a_module_that_checks_clean_never_shows_notes(module):
    problems = notes_problems(module)
    body = render_module(module).body_html
    if not problems:
        assert SECRET not in body, module
        assert "Closing words." in body, module
    else:
        assert all(isinstance(line, int) and message for line, message in problems)


@NOTES_PROPERTY
@given(module=notes_in_nestings())
def test_notes_the_parser_finds_are_never_shown(module):
    """Wherever the parser sees a ```facilitator fence, at any depth, none of its lines of
    notes reach the participants' page (lines that also appear elsewhere aside)."""
    body = render_module(module).body_html
    lines = re.sub(r"\r\n?", "\n", module).split("\n")
    for token in _answer_parser().parse(module):
        if token.type == "fence" and is_facilitator_fence(token.info):
            for line in token.content.splitlines():
                words = line.strip()
                if SECRET in words and sum(words in other for other in lines) == 1:
                    assert words not in body, module
