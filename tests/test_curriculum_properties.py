"""Properties of the curriculum checker and renderer, over generated input: whatever an author
puts in a program's files, `load_program` answers with a program or with `path:line: message`
problems, `curriculum check` never shows a traceback, and rendering never lets a script live."""

from __future__ import annotations

import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from intervention.curriculum import loader
from intervention.curriculum.loader import (
    MODULE_KEYS,
    POLICY_DEFAULTS,
    PROGRAM_KEYS,
    PROMPT_KEYS,
    LoadedProgram,
    load_program,
)
from intervention.curriculum.render import render_module

from .conftest import FIXTURE_CURRICULA
from .helpers import live_markup

SLUG = "accountability-and-change"
MODULE_2 = "modules/02-the-women-behind-the-transaction.md"
SLUG2 = "the-women-behind-the-transaction.md"
PROBLEM = re.compile(r"^.+:\d+: ")
SUMMARY = re.compile(r"^1 program\(s\) checked: \d+ error\(s\), \d+ warning\(s\)$")

# The whole-suite run stays quick; the app and its CLI runner are the same for every example.
PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


LEAN_MODULE = """\
---
session: {n}
title: "Week {n}"
duration_minutes: 90
reflection:
  - id: week-{n}
    text: "What did you learn?"
    min_words: 10
---
## Week {n}

The plan: ![The weeks](../assets/week-plan.png). Read [session 2](02-{slug2}#who-is-in-it),
then [session 1](./01-why-you-are-here.md) again. Call [988](https://988lifeline.org/).

```facilitator
Ask each man what he read.
```
"""


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A copy of the fixture program with short modules, so each example loads quickly; each
    example edits one file of it and puts the file back afterwards."""
    folder = tmp_path_factory.mktemp("properties") / SLUG
    shutil.copytree(FIXTURE_CURRICULA / SLUG, folder)
    for path in sorted((folder / "modules").glob("*.md")):
        n = int(path.name[:2])
        path.write_text(LEAN_MODULE.format(n=n, slug2=SLUG2))
    return folder


@contextmanager
def replaced(folder: Path, rel: str, content: bytes):
    path = folder / rel
    original = path.read_bytes()
    path.write_bytes(content)
    try:
        yield folder
    finally:
        path.write_bytes(original)


def check_through_the_cli(app, folder: Path):
    """Run `curriculum check` on the folder and hand back what load_program returned to it,
    so each example loads the program once."""
    returned = []
    real = loader.load_program

    def recording(path):
        result = real(path)
        returned.append(result)
        return result

    with mock.patch.object(loader, "load_program", recording):
        result = app.test_cli_runner().invoke(args=["curriculum", "check", str(folder)])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    [(program, problems)] = returned
    return result, program, problems


def assert_program_or_problems(app, folder: Path) -> None:
    result, program, problems = check_through_the_cli(app, folder)
    if program is None:
        assert problems, "no program and no problem"
        assert any(p.severity == "error" for p in problems)
        assert result.exit_code == 1, result.output
    else:
        assert isinstance(program, LoadedProgram)
        assert all(p.severity != "error" for p in problems)
        assert result.exit_code == 0, result.output
    for problem in problems:
        assert PROBLEM.match(str(problem)), str(problem)
        assert problem.line >= 1, str(problem)
        assert Path(problem.path).is_relative_to(folder), str(problem)
    # Every line the author sees is one problem, then the summary: nothing else, no traceback.
    lines = result.output.splitlines()
    assert lines and SUMMARY.match(lines[-1]), result.output
    assert len(lines) == len(problems) + 1, result.output
    for line in lines[:-1]:
        assert PROBLEM.match(line), line


# --- generated input -------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.dates(),
)
known_keys = sorted(PROGRAM_KEYS | set(POLICY_DEFAULTS) | MODULE_KEYS | PROMPT_KEYS)
keys = st.one_of(st.sampled_from(known_keys), st.text(max_size=12), st.integers(), st.booleans())
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(keys, children, max_size=6),
    ),
    max_leaves=25,
)

VALID_PROGRAM = yaml.safe_load((FIXTURE_CURRICULA / SLUG / "program.yaml").read_text())
# The real front matter of a module, which the generated documents start from.
_module_2 = (FIXTURE_CURRICULA / SLUG / MODULE_2).read_text()
VALID_FRONT_MATTER = yaml.safe_load(_module_2.split("---\n")[1])
MODULE_2_BODY = LEAN_MODULE.split("---\n", 2)[2].format(n=2, slug2=SLUG2)


def mutated(valid: dict):
    """A valid document with a few of its values, at any depth, dropped, replaced by generated
    ones or joined by a generated key: reaches the checks that a document missing its required
    keys never gets to. Some examples change nothing, some change much."""

    @st.composite
    def strategy(draw):
        rate = draw(st.sampled_from([0, 40, 12, 4]))  # about one node in `rate`; 0: none

        def hit() -> bool:
            return bool(rate) and draw(st.integers(0, rate - 1)) == 0

        def mutate(value):
            if hit():
                return draw(documents)
            if isinstance(value, dict):
                out = {k: mutate(v) for k, v in value.items() if not hit()}
                if hit():
                    out[draw(keys)] = draw(documents)
                return out
            if isinstance(value, list):
                return [mutate(v) for v in value]
            return value

        return mutate(valid)

    return strategy()


def dump(document) -> bytes:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode()


def as_module(front_matter: str, body: str = MODULE_2_BODY) -> bytes:
    return f"---\n{front_matter}\n---\n{body}".encode()


MARKDOWN_BITS = [
    "\n",
    "\n\n",
    " ",
    "  ",
    "\t",
    "#",
    "## ",
    "# ",
    "### ",
    "> ",
    "> [!NOTE]\n",
    "> [!WARNING]\n",
    "> [!CAUTION]\n> ",
    "[!TIP]",
    "- ",
    "* ",
    "1. ",
    "|",
    "| a | b |\n| - | - |\n",
    "`",
    "```",
    "~~~",
    "```facilitator\n",
    "~~~ Facilitator\n",
    "```{facilitator}\n",
    "[",
    "]",
    "(",
    ")",
    "![",
    "](",
    "<",
    ">",
    "</",
    "<script>",
    "<div>",
    "<img src=x onerror=alert(1)>",
    "<!-- ",
    " -->",
    "javascript:",
    "JaVaScRiPt:",
    "data:",
    "vbscript:",
    "file:",
    "https://e.example/",
    "mailto:a@b",
    "&#106;",
    "&",
    "&amp;",
    "%00",
    "%0A",
    "%2e%2e/",
    "../",
    "../../",
    "/etc/passwd",
    "../assets/week-plan.png",
    "../assets/nope.png",
    "02-the-women-behind-the-transaction.md",
    "01-why-you-are-here.md#welcome",
    "missing.md",
    "#who-is-in-prostitution",
    "[^1]",
    "[^1]: ",
    "[x]: ",
    "*",
    "_",
    "**",
    "~~",
    "\\",
    '"',
    "'",
    "onclick=",
    "{#id}",
    "---\n",
    "===\n",
]
markdownish = st.lists(
    st.one_of(st.sampled_from(MARKDOWN_BITS), st.text(max_size=8)), max_size=40
).map("".join)


# --- load_program never raises ---------------------------------------------------------------


@PROPERTY
@given(content=st.binary(max_size=1500))
@example(content=b"title: x\n\x00")  # PyYAML's ReaderError: a message on two lines
@example(content=b"title: !!bool maybe\n")  # PyYAML raises KeyError
@example(content=b"title: !!timestamp soon\n")  # PyYAML raises AttributeError
def test_any_bytes_as_program_yaml(app, base, content):
    with replaced(base, "program.yaml", content):
        assert_program_or_problems(app, base)


@PROPERTY
@given(content=st.one_of(st.binary(max_size=1500), st.text(max_size=1500).map(str.encode)))
def test_any_bytes_as_a_module_file(app, base, content):
    with replaced(base, MODULE_2, content):
        assert_program_or_problems(app, base)


@PROPERTY
@given(front_matter=st.text(max_size=400))
@example(front_matter="session: !!int two\ntitle: !!bool x")
@example(front_matter="session: 2\n\x07")
def test_any_text_as_front_matter(app, base, front_matter):
    with replaced(base, MODULE_2, as_module(front_matter)):
        assert_program_or_problems(app, base)


@PROPERTY
@given(document=st.one_of(documents, mutated(VALID_PROGRAM)))
@example(document={**VALID_PROGRAM, "policy": {"\r": None}})  # a key with a line break
@example(document={**VALID_PROGRAM, "module_opens_days_before": -1})
def test_any_yaml_document_as_program_yaml(app, base, document):
    with replaced(base, "program.yaml", dump(document)):
        assert_program_or_problems(app, base)


@PROPERTY
@given(document=st.one_of(documents, mutated(VALID_FRONT_MATTER)))
def test_any_yaml_document_as_front_matter(app, base, document):
    with replaced(base, MODULE_2, as_module(dump(document).decode())):
        assert_program_or_problems(app, base)


@PROPERTY
@given(body=markdownish)
@example(body="[a](%00.png) and [b](x%00.md)")  # Path.resolve() raised on a NUL
@example(body="[a](%0Aevil.png) [b](javascript:%0Aalert(1))")
@example(body="<div>\n\nx <span>y</span> [z](../../secret.txt) [w](/etc/passwd)\n")
def test_any_markdownish_text_as_a_module_body(app, base, body):
    front_matter = dump(VALID_FRONT_MATTER).decode()
    with replaced(base, MODULE_2, as_module(front_matter, body)):
        assert_program_or_problems(app, base)


def test_the_unchanged_base_loads(base):
    """The properties start from a program that loads, so generated input is what breaks it."""
    program, problems = load_program(base)
    assert program is not None, [str(p) for p in problems]


# --- rendering never lets a script live ------------------------------------------------------


def assert_harmless(html: str) -> None:
    for tag, attrs in live_markup(html):
        assert tag not in {"script", "iframe", "object", "embed", "svg", "style", "form"}, html
        for name, value in attrs.items():
            assert not name.startswith("on"), html
            if name in {"href", "src"}:
                compact = re.sub(r"[\x00-\x20]", "", value or "").lower()
                assert not compact.startswith(("javascript:", "vbscript:", "data:")), html
    assert "<script" not in html.lower(), html


@settings(max_examples=200, deadline=None)
@given(
    text=st.one_of(markdownish, st.text(max_size=300)),
    language=st.sampled_from(["en", "es"]),
    resolve=st.sampled_from([None, lambda href: href, lambda href: "javascript:alert(1)"]),
)
def test_rendering_any_text_leaves_nothing_live(text, language, resolve):
    rendered = render_module(text, resolve, language)
    assert_harmless(rendered.body_html)
    assert_harmless(rendered.notes_html)
    for entry in rendered.toc:
        assert entry["level"] in (2, 3)
