"""Markdown to safe HTML, shared by curriculum modules and participants' answers."""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from mdit_py_plugins.footnote import footnote_plugin

FACILITATOR_FENCE = "facilitator"

ALLOWED_TAGS = {
    "a",
    "abbr",
    "blockquote",
    "br",
    "caption",
    "code",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
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
    "section",
    "span",
    "strong",
    "sub",
    "summary",
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
    "th": {"align", "scope"},
    "td": {"align"},
    "li": {"id"},
    "sup": {"class", "id"},
    "section": {"class"},
    "ol": {"start", "class"},
    "hr": {"class"},
    "div": {"class"},
    "code": {"class"},
}


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # CommonMark with tables and strikethrough; raw HTML stays text, never markup.
    return (
        MarkdownIt("commonmark", {"html": False, "linkify": False})
        .enable(["table", "strikethrough"])
        .use(footnote_plugin)
    )


def sanitize(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def render_markdown(text: str) -> str:
    """Any Markdown (an answer, a module body) to HTML that is safe to show as is."""
    return sanitize(_parser().render(text))


def split_facilitator_notes(markdown: str) -> tuple[str, str]:
    """Return (participant body, facilitator notes) from a module's Markdown.

    Facilitator notes are fenced blocks with the info string `facilitator`; they are cut out
    of the body by the parser's own tokens, so no fence trick can leak them to participants.
    """
    tokens = _parser().parse(markdown)
    lines = markdown.splitlines(keepends=True)
    body_lines = list(lines)
    notes: list[str] = []
    for token in tokens:
        if token.type == "fence" and token.info.strip() == FACILITATOR_FENCE and token.map:
            start, end = token.map
            notes.append(token.content)
            for i in range(start, end):
                body_lines[i] = ""
    return "".join(body_lines), "\n".join(notes)
