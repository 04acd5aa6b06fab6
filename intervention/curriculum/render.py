"""Markdown to safe HTML, shared by curriculum modules and participants' answers.

Module pages live at `.../modules/<session>`, so links between modules are rewritten to the
bare session number and asset links to `assets/<path>`: both resolve relative to whichever
audience's module page shows them, with no version or cohort id baked into stored HTML.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.footnote import footnote_plugin

FACILITATOR_FENCE = "facilitator"
ALERT_KINDS = ("note", "tip", "important", "warning", "caution")
ALERT_TITLES = {
    "es": {
        "Note": "Nota",
        "Tip": "Consejo",
        "Important": "Importante",
        "Warning": "Advertencia",
        "Caution": "Cuidado",
    },
}

# Table alignment comes from markdown-it as a style attribute, which the Content-Security-Policy
# (style-src 'self', no unsafe-inline) would block: it becomes a class instead.
ALIGN_CLASSES = ("align-left", "align-center", "align-right")
_ALIGN_STYLE = re.compile(r'<(th|td) style="text-align:\s*(left|center|right);?">')

ALLOWED_TAGS = {
    "a",
    "abbr",
    "blockquote",
    "br",
    "caption",
    "code",
    "dd",
    "del",
    "div",
    "dl",
    "dt",
    "em",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "section",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "id"},
    "img": {"src", "alt", "title", "width", "height"},
    "li": {"id"},
    "h2": {"id"},
    "h3": {"id"},
    "h4": {"id"},
    "ol": {"start"},
}
ALLOWED_CLASSES = {
    "div": {"markdown-alert", *(f"markdown-alert-{k}" for k in ALERT_KINDS)},
    "p": {"markdown-alert-title"},
    "a": {"footnote-backref"},
    "sup": {"footnote-ref"},
    "section": {"footnotes"},
    "ol": {"footnotes-list"},
    "li": {"footnote-item"},
    "hr": {"footnotes-sep"},
    "th": set(ALIGN_CLASSES),
    "td": set(ALIGN_CLASSES),
}
URL_SCHEMES = {"http", "https", "mailto", "tel"}

LinkResolver = Callable[[str], str | None]


def _configure(md: MarkdownIt) -> MarkdownIt:
    md.enable(["table", "strikethrough"]).use(footnote_plugin)
    md.options["alerts"] = True  # GitHub-style callouts: > [!NOTE]
    return md


@lru_cache(maxsize=1)
def _answer_parser() -> MarkdownIt:
    # CommonMark; raw HTML stays text, never markup.
    return _configure(MarkdownIt("commonmark", {"html": False}))


@lru_cache(maxsize=1)
def _module_parser() -> MarkdownIt:
    md = _configure(MarkdownIt("commonmark", {"html": False}))
    return md.use(anchors_plugin, min_level=2, max_level=3)


@lru_cache(maxsize=1)
def html_detecting_parser() -> MarkdownIt:
    """Used by the checker only: finds raw HTML the authors wrote, which would show as text."""
    md = _configure(MarkdownIt("commonmark", {"html": True}))
    md.validateLink = lambda url: True  # so javascript: links are seen, and reported
    return md


def sanitize(html: str) -> str:
    html = _ALIGN_STYLE.sub(r'<\1 class="align-\2">', html)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
    )


def render_markdown(text: str) -> str:
    """A participant's answer or a reviewer's comment to HTML that is safe to show as is."""
    return sanitize(_answer_parser().render(text))


@dataclass
class RenderedModule:
    body_html: str
    notes_html: str
    toc: list[dict] = field(default_factory=list)  # [{"level": 2, "id": "...", "title": "..."}]


def render_module(
    markdown: str, resolve_link: LinkResolver | None = None, language: str = "en"
) -> RenderedModule:
    body, notes = split_facilitator_notes(markdown)
    body_html, toc = _render_with_links(body, resolve_link)
    notes_html = _render_with_links(notes, resolve_link)[0] if notes.strip() else ""
    return RenderedModule(_localize(body_html, language), _localize(notes_html, language), toc)


def _render_with_links(markdown: str, resolve_link: LinkResolver | None):
    md = _module_parser()
    env: dict = {}
    tokens = md.parse(markdown, env)
    toc = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag in ("h2", "h3") and token.attrs.get("id"):
            title = _plain_text(tokens[i + 1]) if i + 1 < len(tokens) else ""
            toc.append({"level": int(token.tag[1]), "id": token.attrs["id"], "title": title})
        if resolve_link is not None:
            for child in _walk(token):
                attr = {"link_open": "href", "image": "src"}.get(child.type)
                if attr and child.attrs.get(attr):
                    resolved = resolve_link(str(child.attrs[attr]))
                    if resolved is not None:
                        child.attrs[attr] = resolved
    html = md.renderer.render(tokens, md.options, env)
    return sanitize(html), toc


def _plain_text(inline: Token) -> str:
    """A heading's words as the reader sees them: no `**`, link targets or entities."""
    breaks = {"softbreak": " ", "hardbreak": " "}
    kept = ("text", "code_inline", *breaks)
    return "".join(breaks.get(t.type, t.content) for t in _walk(inline) if t.type in kept).strip()


def _walk(token: Token):
    yield token
    for child in token.children or ():
        yield from _walk(child)


def _localize(html: str, language: str) -> str:
    titles = ALERT_TITLES.get(language.split("-")[0])
    if not titles:
        return html
    return re.sub(
        r'(<p class="markdown-alert-title">)(\w+)(</p>)',
        lambda m: m.group(1) + titles.get(m.group(2), m.group(2)) + m.group(3),
        html,
    )


# A line that opens, or looks meant to open, facilitator notes wherever it stands: after any
# indentation, block-quote marks and list markers, three or more backticks or tildes, then the
# word (```facilitator, ~~~ Facilitator notes, ```{.facilitator}, ```facilitators ...).
NOTES_OPENER = re.compile(
    r"(?:[ \t>]|[-+*][ \t]|\d{1,9}[.)][ \t])*(`{3,}|~{3,})[ \t]*\{?[ \t]*\.?facilitat", re.I
)
# The blocks of the parse a line of notes can end up in; containers (lists, quotes) hold these.
_LEAF_BLOCKS = ("fence", "code_block", "paragraph_open")


def _lines(markdown: str) -> list[str]:
    """The lines as the parser numbers them: only a line feed (or CR LF, or CR) ends one.
    Python's splitlines also breaks at a form feed or U+2028, which would set every later
    line apart from the parser's maps, and cut the wrong lines."""
    return re.sub(r"\r\n?", "\n", markdown).split("\n")


def _leaf_blocks(markdown: str) -> list[Token]:
    return [t for t in _answer_parser().parse(markdown) if t.type in _LEAF_BLOCKS and t.map]


def _is_notes(token: Token, lines: list[str]) -> bool:
    """A fence marked facilitator at any depth, or any block in which a line opens (or looks
    meant to open) facilitator notes, such as a fence indented into a code block."""
    if token.type == "fence" and is_facilitator_fence(token.info):
        return True
    start, end = token.map
    return any(NOTES_OPENER.match(line) for line in lines[start:end])


def split_facilitator_notes(markdown: str) -> tuple[str, str]:
    """Return (participant body, facilitator notes) from a module's Markdown.

    Facilitator notes are fenced blocks with the info string `facilitator`; they are cut out
    of the body by the parser's own tokens, so no fence trick can leak them to participants.
    Every other block in which a line looks like such a fence (indented into a code block,
    inside another fence, in a list or quote) is cut too: `curriculum check` refuses those,
    and should one be stored anyway, participants still never see it. The body is parsed
    again until nothing more is cut, as cutting lines can change how the rest parses."""
    body, notes = markdown, []
    while True:
        lines = _lines(body)
        cut = [t for t in _leaf_blocks(body) if _is_notes(t, lines)]
        if not cut:
            return body, "\n".join(notes)
        gone: set[int] = set()
        for token in cut:
            notes.append(_notes_in(token, lines))
            gone.update(range(*token.map))
        body = "\n".join(line for i, line in enumerate(lines) if i not in gone)


def _notes_in(token: Token, lines: list[str]) -> str:
    if token.type == "fence" and is_facilitator_fence(token.info):
        return token.content
    if token.type == "paragraph_open":
        return "\n".join(lines[slice(*token.map)])
    # A code block or another fence holding a facilitator fence: the notes inside it. Its
    # content is shorter (a fence) or less indented (a code block), so this ends.
    return split_facilitator_notes(token.content)[1] or token.content


def is_facilitator_fence(info: str) -> bool:
    words = info.strip().split()
    return bool(words) and words[0].lower().strip("{}") == FACILITATOR_FENCE


def notes_problems(markdown: str) -> list[tuple[int, str]]:
    """(line counted from 0, what is wrong) for every block of facilitator notes that is not
    a closed ```facilitator fence at the top level of the module, with no fence inside it.

    `curriculum check` refuses these. The rule is narrow on purpose: it is the one form the
    renderer recognises without guessing, so a module that checks clean never shows notes to
    participants, however the author nested, indented or fenced them."""
    lines = _lines(markdown)
    leaves = _leaf_blocks(markdown)
    problems, hidden = [], set()
    for token in leaves:
        if token.type == "fence" and is_facilitator_fence(token.info):
            start, end = token.map
            hidden.update(range(start, end))
            problem = _fence_problem(token, lines)
            if problem:
                problems.append((start, problem))
        elif token.type == "fence":
            problem = _other_fence_problem(token, lines)
            if problem:
                problems.append((token.map[0], problem))
    for i, line in enumerate(lines):
        if i not in hidden and NOTES_OPENER.match(line):
            block = next((t for t in leaves if t.map[0] <= i < t.map[1]), None)
            problems.append((i, _stray_problem(block, i)))
    return sorted(problems)


def _fence_problem(token: Token, lines: list[str]) -> str | None:
    start, end = token.map
    mark, size = token.markup[0], len(token.markup)
    if token.level > 0:
        return (
            "facilitator notes inside a list, block quote or footnote: start the "
            "```facilitator fence at the left margin, outside it"
        )
    if mark == "~":
        return "facilitator notes fenced with ~~~: fence them with backticks, ```facilitator"
    if not _closed(token, lines):
        return (
            f"the {token.markup}facilitator block is never closed, which hides the rest of "
            f"the module from participants: add a line with {token.markup} after the notes"
        )
    if lines[end - 1].strip() != token.markup:
        return (
            f"close the {token.markup}facilitator block with {token.markup}, as it was "
            "opened: a longer fence closes it too, and the line after it shows a stray "
            "fence to participants"
        )
    inner = re.compile(rf" {{0,3}}{re.escape(mark)}{{{size},}}")
    if any(inner.match(line) for line in token.content.splitlines()):
        return (
            "a fence inside facilitator notes closes them early, and the notes after it "
            f"would show to participants: open the notes with more backticks ({mark * (size + 1)}"
            "facilitator) than the fence inside"
        )
    return None


def _other_fence_problem(token: Token, lines: list[str]) -> str | None:
    # A ``` meant to open a sample inside facilitator notes closes them instead; the notes
    # after it show to participants, and the notes' own closing ``` then opens a fence of its
    # own. Asking every fence for a word (markdownlint's rule MD040) makes that fence, and so
    # the leak, visible to the checker.
    if not token.info.strip():
        return (
            f"a fence needs a word after its {token.markup}, such as {token.markup}text: a "
            f"bare {token.markup} that opens a block is most often the closing line of "
            "facilitator notes that an earlier line already closed"
        )
    if token.level == 0 and not _closed(token, lines):
        return (
            "this fence is never closed, so the rest of the module shows as code: add a "
            f"line with {token.markup} after it"
        )
    return None


def _closed(token: Token, lines: list[str]) -> bool:
    start, end = token.map
    mark, size = token.markup[0], len(token.markup)
    closer = re.compile(rf" {{0,3}}{re.escape(mark)}{{{size},}}[ \t]*")
    return end - start >= 2 and bool(closer.fullmatch(lines[end - 1]))


def _stray_problem(block: Token | None, line: int) -> str:
    if block is not None and block.type == "code_block":
        return (
            "facilitator notes indented 4 spaces or more are a code block participants "
            "see: start the ```facilitator fence at the left margin"
        )
    if block is not None and block.type == "fence" and block.map[0] == line:
        return (
            f"{block.markup}{block.info.strip()} is not a facilitator fence, so participants "
            "see it: write ```facilitator"
        )
    if block is not None and block.type == "fence":
        return (
            "facilitator notes inside another fenced block are shown to participants as "
            "code: close that block before the notes"
        )
    return (
        "this line looks like facilitator notes but is not a fence, so participants see it: "
        "write ```facilitator on a line of its own, with no backtick after it"
    )
