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


def split_facilitator_notes(markdown: str) -> tuple[str, str]:
    """Return (participant body, facilitator notes) from a module's Markdown.

    Facilitator notes are fenced blocks with the info string `facilitator`; they are cut out
    of the body by the parser's own tokens, so no fence trick can leak them to participants.
    """
    tokens = _answer_parser().parse(markdown)
    lines = markdown.splitlines(keepends=True)
    body_lines = list(lines)
    notes: list[str] = []
    for token in tokens:
        if token.type == "fence" and is_facilitator_fence(token.info) and token.map:
            start, end = token.map
            notes.append(token.content)
            for i in range(start, end):
                body_lines[i] = ""
    return "".join(body_lines), "\n".join(notes)


def is_facilitator_fence(info: str) -> bool:
    words = info.strip().split()
    return bool(words) and words[0].lower().strip("{}") == FACILITATOR_FENCE
