"""Read a program folder (program.yaml + modules/*.md) into plain data, or say what is wrong.

Every problem is reported as `path:line: message`; nothing a file holds may raise out of here.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

POLICY_DEFAULTS: dict[str, Any] = {
    "sessions_required": None,  # None: every module of the program
    "max_absences": None,  # None: no limit; 0: none allowed
    "max_consecutive_absences": None,
    "late_counts_as_attended": True,
    "max_gap_days": None,
    "makeups_required": True,
}
PROGRAM_KEYS = {
    "title",
    "code",
    "description",
    "language",
    "version",
    "policy",
    "rubric",
    "module_opens_days_before",
    "reflection_due_days",
    "retention_years",
}
# Files a module may link to or show from the program's assets/ folder.
ASSET_TYPES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".pdf"}
MAX_ASSET_BYTES = 5 * 1024 * 1024
SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
MODULE_KEYS = {"session", "title", "duration_minutes", "objectives", "reflection", "resources"}
PROMPT_KEYS = {"id", "text", "min_words", "required"}
WEB_URL = re.compile(r"(https?://|mailto:|tel:)", re.IGNORECASE)


@dataclass
class Problem:
    path: str
    line: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        prefix = "" if self.severity == "error" else f"{self.severity}: "
        # One problem, one line: a key or link written with a line break in it is shown escaped.
        return f"{self.path}:{self.line}: {prefix}{self.message}".translate(_ONE_LINE)


_ONE_LINE = str.maketrans({c: repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"})


@dataclass
class LoadedPrompt:
    key: str
    text: str
    min_words: int
    required: bool
    line: int = 1


@dataclass
class LoadedModule:
    source_path: str
    session: int
    title: str
    duration_minutes: int
    objectives: list[str]
    prompts: list[LoadedPrompt]
    resources: list[dict]
    body_markdown: str


@dataclass
class LoadedProgram:
    slug: str
    title: str
    code: str
    description: str
    language: str
    version: str
    policy: dict
    rubric: list
    content_hash: str
    folder: Path = Path(".")
    module_opens_days_before: int = 0
    reflection_due_days: int | None = None  # None: due before the next session
    retention_years: int = 4  # closed cases are anonymised this many years after closing
    modules: list[LoadedModule] = field(default_factory=list)
    assets: dict[str, bytes] = field(default_factory=dict)  # path under assets/ -> bytes


class _Reader:
    """Collects problems for one file, with line numbers taken from the YAML nodes."""

    def __init__(self, path: str, problems: list[Problem], line_offset: int = 0):
        self.path = path
        self.problems = problems
        self.offset = line_offset

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line + self.offset, message))

    def parse(self, text: str) -> tuple[Any, yaml.Node | None]:
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            line = mark.line + 1 if mark else 1
            if isinstance(exc, yaml.reader.ReaderError):  # a character YAML refuses
                line = text.count("\n", 0, exc.position) + 1
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            self.error(line, f"YAML does not parse: {problem}")
            return None, None
        except Exception as exc:  # noqa: BLE001  absurd nesting or numbers, or a tag PyYAML
            # itself fails on (`!!bool x`: KeyError, `!!timestamp x`: AttributeError)
            self.error(1, f"YAML does not parse: {exc}")
            return None, None
        return data, node


def _line_of(node: yaml.Node | None, key: str | None = None) -> int:
    if node is None:
        return 1
    if key is not None and isinstance(node, yaml.MappingNode):
        for k, _v in node.value:
            if getattr(k, "value", None) == key:
                return k.start_mark.line + 1
    return node.start_mark.line + 1


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if getattr(k, "value", None) == key:
                return v
    return None


def _item(node: yaml.Node | None, index: int) -> yaml.Node | None:
    if isinstance(node, yaml.SequenceNode) and index < len(node.value):
        return node.value[index]
    return node


def _near(name: str, known: set[str]) -> str:
    import difflib

    match = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _check_keys(r: _Reader, data: dict, node, known: set[str], where: str) -> None:
    for key in data:
        if str(key) not in known:
            r.error(
                _line_of(node, str(key)), f"unknown key '{key}' in {where}{_near(str(key), known)}"
            )


def _require(r, data: dict, node, key: str, kind: type | tuple, where: str, default=None):
    if key not in data or data[key] is None:
        if default is not None:
            return default
        r.error(_line_of(node), f"{where} is missing '{key}'")
        return None
    value = data[key]
    if isinstance(value, bool) and kind in (int, (int,)):
        r.error(_line_of(node, key), f"'{key}' must be a whole number, not {value!r}")
        return None
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        r.error(_line_of(node, key), f"'{key}' must be {_article(names)}, not {value!r}")
        return None
    return value


def _article(name: str) -> str:
    words = {
        "str": "text",
        "int": "a whole number",
        "bool": "true or false",
        "list": "a list",
        "dict": "a mapping",
    }
    return " or ".join(words.get(n, n) for n in name.split(" or "))


def hash_program_folder(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def load_program(folder: Path) -> tuple[LoadedProgram | None, list[Problem]]:
    """Load one program folder. Returns the program only when there are no errors."""
    problems: list[Problem] = []
    folder = Path(folder)
    label = lambda p: str(p)  # noqa: E731  paths are printed as given
    yaml_path = folder / "program.yaml"
    if not yaml_path.is_file():
        problems.append(Problem(label(yaml_path), 1, "program.yaml is missing"))
        return None, problems

    r = _Reader(label(yaml_path), problems)
    data, node = _parse_program_yaml(r, yaml_path)
    _check_keys(r, data, node, PROGRAM_KEYS, "program.yaml")
    title = _require(r, data, node, "title", str, "program.yaml")
    code = _read_program_code(r, data, node)
    version = _require(r, data, node, "version", (str, int, float), "program.yaml")
    description = _require(r, data, node, "description", str, "program.yaml", default="") or ""
    language = _require(r, data, node, "language", str, "program.yaml", default="en") or "en"
    policy = _read_policy(r, data.get("policy"), _child(node, "policy"), _line_of(node, "policy"))
    opens = _read_module_opens(r, data, node)
    due_days = _read_reflection_due_days(r, data, node)
    retention = _read_retention_years(r, data, node)
    rubric = _read_rubric(r, data, node)
    modules, assets = _load_modules_and_assets(folder, problems)

    _check_program_wide(problems, label(yaml_path), node, modules, policy)
    if any(p.severity == "error" for p in problems):
        return None, problems
    program = LoadedProgram(
        slug=folder.name,
        title=title,
        code=code.upper(),
        description=description.strip(),
        language=language,
        version=str(version),
        policy=policy,
        rubric=rubric,
        content_hash=hash_program_folder(folder),
        folder=folder,
        module_opens_days_before=opens or 0,
        reflection_due_days=due_days,
        retention_years=retention,
        modules=sorted(modules, key=lambda m: m.session),
        assets=assets,
    )
    return program, problems


def _parse_program_yaml(r: _Reader, yaml_path: Path) -> tuple[dict, yaml.Node | None]:
    """program.yaml as a mapping (empty when it cannot be read or is not one), and its node."""
    text = _read_text(r, yaml_path)
    data, node = r.parse(text) if text is not None else (None, None)
    if data is not None and not isinstance(data, dict):
        r.error(1, "program.yaml must be a mapping of keys to values")
        data = None
    return data or {}, node


def _read_program_code(r: _Reader, data: dict, node) -> str | None:
    code = _require(r, data, node, "code", str, "program.yaml")
    if code is not None and not (code.isascii() and code.isalnum() and len(code) <= 12):
        r.error(_line_of(node, "code"), "'code' must be 1-12 letters or digits, e.g. AAC")
    return code


def _read_module_opens(r: _Reader, data: dict, node) -> int | None:
    """How many days before its session a module opens (reported, not clamped, when wrong)."""
    opens = _require(r, data, node, "module_opens_days_before", int, "program.yaml", default=0)
    if opens is not None and opens < 0:
        r.error(
            _line_of(node, "module_opens_days_before"),
            "'module_opens_days_before' "
            "must be 0 or more (0: a module opens when its session starts)",
        )
    elif opens is not None and opens > 365:  # more would crash every page that dates a module
        r.error(
            _line_of(node, "module_opens_days_before"),
            "'module_opens_days_before' must be 365 or less",
        )
    return opens


def _read_reflection_due_days(r: _Reader, data: dict, node) -> int | None:
    due_days = data.get("reflection_due_days")
    if due_days is not None and (
        not isinstance(due_days, int) or isinstance(due_days, bool) or not 0 <= due_days <= 60
    ):
        r.error(
            _line_of(node, "reflection_due_days"),
            "'reflection_due_days' must be a whole "
            f"number from 0 to 60 (days after the session), not {due_days!r}",
        )
        due_days = None
    return due_days


def _read_retention_years(r: _Reader, data: dict, node) -> int:
    retention = data.get("retention_years", 4)
    if not isinstance(retention, int) or isinstance(retention, bool) or not 1 <= retention <= 99:
        r.error(
            _line_of(node, "retention_years"),
            "'retention_years' must be a whole number "
            f"from 1 to 99 (years kept after a case closes), not {retention!r}",
        )
        retention = 4
    return retention


def _read_rubric(r: _Reader, data: dict, node) -> list:
    rubric = data.get("rubric") or []
    if not isinstance(rubric, list):
        r.error(_line_of(node, "rubric"), "'rubric' must be a list of criteria")
        rubric = []
    return rubric


def _load_modules_and_assets(
    folder: Path, problems: list[Problem]
) -> tuple[list[LoadedModule], dict[str, bytes]]:
    """The modules/*.md files that load, and the served files of assets/."""
    modules_dir = folder / "modules"
    module_files = sorted(modules_dir.glob("*.md")) if modules_dir.is_dir() else []
    if not module_files:
        problems.append(Problem(str(modules_dir), 1, "no modules: add modules/*.md files"))
    assets = _load_assets(folder, problems)
    links = LinkContext(folder, {f.resolve() for f in module_files}, set(assets))
    modules = [
        m for f in module_files if (m := _load_module(f, folder, problems, links)) is not None
    ]
    return modules, assets


def _read_text(r: _Reader, path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        r.error(1, f"file is not UTF-8 text (byte {exc.start})")
    except OSError as exc:
        r.error(1, f"cannot read file: {exc.strerror}")
    return None


def _read_policy(r: _Reader, raw, node, line: int) -> dict:
    policy = dict(POLICY_DEFAULTS)
    if raw is None:
        return policy
    if not isinstance(raw, dict):
        r.error(line, "'policy' must be a mapping")
        return policy
    _check_keys(r, raw, node, set(POLICY_DEFAULTS), "policy")
    for key, default in POLICY_DEFAULTS.items():
        if key not in raw:
            continue
        value = raw[key]
        expected = bool if isinstance(default, bool) else int
        ok = isinstance(value, expected) and (expected is bool or not isinstance(value, bool))
        if value is None and default is None:
            ok = True
        if not ok or (expected is int and value is not None and value < 0):
            kind = "true or false" if expected is bool else "a whole number, 0 or more"
            r.error(_line_of(node, key), f"policy '{key}' must be {kind}, not {value!r}")
            continue
        policy[key] = value
    return policy


def _load_module(
    path: Path, folder: Path, problems: list[Problem], links: LinkContext
) -> LoadedModule | None:
    rel = str(path)
    r = _Reader(rel, problems)
    text = _read_text(r, path)
    if text is None:
        return None
    lines = text.splitlines(keepends=True)
    end = _front_matter_end(r, lines)
    if end is None:
        return None
    fm = _Reader(rel, problems, line_offset=1)  # front matter starts on file line 2
    before = len(problems)
    data, node = fm.parse("".join(lines[1:end]))
    if len(problems) > before:
        return None
    if not isinstance(data, dict):
        fm.error(1, "front matter must be a mapping of keys to values")
        return None
    _check_keys(fm, data, node, MODULE_KEYS, "front matter")
    session = _require(fm, data, node, "session", int, "front matter")
    if session is not None and not 1 <= session <= 200:
        fm.error(_line_of(node, "session"), "'session' must be between 1 and 200")
    title = _require(fm, data, node, "title", str, "front matter")
    duration = _require(fm, data, node, "duration_minutes", int, "front matter")
    if duration is not None and not 1 <= duration <= 1440:
        fm.error(
            _line_of(node, "duration_minutes"),
            "'duration_minutes' must be between 1 and 1440 (a day)",
        )
    objectives = _require(fm, data, node, "objectives", list, "front matter", default=[]) or []
    resources = _require(fm, data, node, "resources", list, "front matter", default=[]) or []
    _check_resources(fm, resources, _child(node, "resources"))
    prompts = _read_prompts(
        fm, data.get("reflection"), _child(node, "reflection"), _line_of(node, "reflection")
    )
    # Warnings never drop a module; errors in its text are reported and stop the program
    # loading, but the module still counts as there (no "no module for session N" after them).
    front_matter_ok = not any(p.severity == "error" for p in problems[before:])
    body = "".join(lines[end + 1 :])
    _check_module_body(r, body, end + 2, path, links)
    if not front_matter_ok:
        return None
    return LoadedModule(
        source_path=path.relative_to(folder).as_posix(),
        session=session,
        title=title.strip(),
        duration_minutes=duration,
        objectives=[str(o) for o in objectives],
        prompts=prompts,
        resources=resources,
        body_markdown=body,
    )


def _front_matter_end(r: _Reader, lines: list[str]) -> int | None:
    """Index of the line closing a module's front matter, or None (reported) when it has none."""
    if not lines or lines[0].strip() != "---":
        r.error(1, "a module must start with front matter between '---' lines")
        return None
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        r.error(1, "front matter is not closed: add a '---' line after it")
    return end


def _check_resources(r: _Reader, resources: list, node) -> None:
    """Shown as links to participants: only web addresses, never javascript: or data:."""
    for index, item in enumerate(resources):
        line = _line_of(_item(node, index))
        if not isinstance(item, dict):
            r.error(line, f"resource {index + 1} must be a mapping with a title and a url")
        elif item.get("url") is not None and not WEB_URL.match(str(item["url"])):
            r.error(line, f"resource {index + 1}: url must start with https://, mailto: or tel:")


def _check_module_body(
    r: _Reader, body: str, first_line: int, path: Path, links: LinkContext
) -> None:
    if not body.strip():
        r.error(first_line, "the module has no text after its front matter")
    else:
        _check_body(r, body, first_line, path, links)


def _read_prompts(r: _Reader, raw, node, line: int) -> list[LoadedPrompt]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        r.error(line, "'reflection' must be a list of prompts")
        return []
    prompts = []
    for index, item in enumerate(raw):
        item_node = _item(node, index)
        where = f"reflection prompt {index + 1}"
        if not isinstance(item, dict):
            r.error(_line_of(item_node), f"{where} must be a mapping with id, text, min_words")
            continue
        _check_keys(r, item, item_node, PROMPT_KEYS, where)
        key = _require(r, item, item_node, "id", str, where)
        text = _require(r, item, item_node, "text", str, where)
        min_words = _require(r, item, item_node, "min_words", int, where, default=0) or 0
        if not 0 <= min_words <= 5000:
            r.error(
                _line_of(item_node, "min_words"), f"{where}: 'min_words' must be between 0 and 5000"
            )
            min_words = 0
        required = item.get("required", True)
        if not isinstance(required, bool):
            r.error(_line_of(item_node, "required"), f"{where}: 'required' must be true or false")
            required = True
        if text is not None and not text.strip():
            r.error(_line_of(item_node, "text"), f"{where} has an empty text")
        if key is not None and text is not None:
            line = _line_of(item_node, "id") + r.offset
            prompts.append(LoadedPrompt(key, text.strip(), min_words, required, line))
    return prompts


def _check_program_wide(problems, yaml_label, node, modules, policy) -> None:
    seen_sessions: dict[int, str] = {}
    seen_prompts: dict[str, str] = {}
    folder = Path(yaml_label).parent  # paths are printed as given, like every other problem
    for m in modules:
        if m.session in seen_sessions:
            problems.append(
                Problem(
                    str(folder / m.source_path),
                    2,
                    f"session {m.session} is also used by {seen_sessions[m.session]}",
                )
            )
        seen_sessions[m.session] = m.source_path
        for p in m.prompts:
            if p.key in seen_prompts:
                problems.append(
                    Problem(
                        str(folder / m.source_path),
                        p.line,
                        f"prompt id '{p.key}' is also used in {seen_prompts[p.key]}",
                    )
                )
            seen_prompts[p.key] = m.source_path
    if seen_sessions:
        missing = sorted(set(range(1, max(seen_sessions) + 1)) - set(seen_sessions))
        if missing:
            problems.append(
                Problem(yaml_label, 1, "no module for session(s) " + ", ".join(map(str, missing)))
            )
    required = policy.get("sessions_required")
    if modules and required is not None and required > len(modules):
        problems.append(
            Problem(
                yaml_label,
                _line_of(_child(node, "policy"), "sessions_required"),
                f"policy requires {required} sessions but the program has only "
                f"{len(modules)} modules",
            )
        )


# --- assets and the Markdown body ---------------------------------------------------------


def _load_assets(folder: Path, problems: list[Problem]) -> dict[str, bytes]:
    assets: dict[str, bytes] = {}
    root = folder / "assets"
    if not root.is_dir():
        return assets
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if path.suffix.lower() not in ASSET_TYPES:
            problems.append(
                Problem(
                    str(path),
                    1,
                    "this file type is not served to "
                    "participants; use " + ", ".join(sorted(ASSET_TYPES)),
                    "warning",
                )
            )
            continue
        size = path.stat().st_size
        if size > MAX_ASSET_BYTES:
            problems.append(
                Problem(
                    str(path),
                    1,
                    f"file is {size // 1024} KB; the limit is {MAX_ASSET_BYTES // 1024} KB",
                )
            )
            continue
        assets[rel] = path.read_bytes()
    return assets


@dataclass
class LinkContext:
    folder: Path
    module_files: set[Path]
    assets: set[str]


@dataclass
class ResolvedLink:
    kind: str  # "web", "anchor", "module", "asset", or a problem: "scheme", "missing", "outside"
    target: str


def resolve_link(href: str, module_path: Path, links: LinkContext) -> ResolvedLink:
    """Classify a link written in a module: where it points, or what is wrong with it."""
    from urllib.parse import unquote

    href = href.strip()
    scheme = SCHEME.match(href)
    if scheme:
        ok = scheme.group(1).lower() in ("http", "https", "mailto", "tel")
        return ResolvedLink("web" if ok else "scheme", scheme.group(1).lower())
    if href.startswith("#") or not href:
        return ResolvedLink("anchor", href)
    if href.startswith("/"):
        return ResolvedLink("outside", href)
    path_part, _, anchor = href.partition("#")
    path_part = unquote(path_part.split("?", 1)[0])
    if "\0" in path_part:  # no file has it in its name; resolve() would raise
        return ResolvedLink("missing", f"file {path_part!r}")
    target = (module_path.parent / path_part).resolve()
    if path_part.endswith(".md"):
        if target in links.module_files:
            return ResolvedLink("module", target.name + (f"#{anchor}" if anchor else ""))
        return ResolvedLink("missing", f"module {path_part}")
    assets_root = (links.folder / "assets").resolve()
    if not target.is_relative_to(assets_root):
        return ResolvedLink("outside", path_part)
    rel = target.relative_to(assets_root).as_posix()
    if rel in links.assets:
        return ResolvedLink("asset", rel)
    if target.is_file():
        return ResolvedLink("unserved", f"assets/{rel}")
    return ResolvedLink("missing", f"file assets/{rel}")


def _check_body(r: _Reader, body: str, first_line: int, path: Path, links: LinkContext) -> None:
    from .render import (
        FACILITATOR_FENCE,
        html_detecting_parser,
        is_facilitator_fence,
        notes_problems,
    )

    # Facilitator notes the renderer would not cut as written (issue 13): asked of the
    # renderer itself, so the check and what participants see cannot disagree.
    for index, problem in notes_problems(body):
        r.error(first_line + index, problem)
    md = html_detecting_parser()
    tokens = md.parse(body)
    for token in tokens:
        line = first_line + (token.map[0] if token.map else 0)
        if token.type == "html_block":
            _raw_html(r, line, token.content)
        elif token.type == "heading_open" and token.tag == "h1":
            r.problems.append(
                Problem(
                    r.path,
                    line,
                    "use '##' for headings: the module title is already shown above the text",
                    "warning",
                )
            )
        elif token.type == "fence" and is_facilitator_fence(token.info):
            if token.info.strip() != FACILITATOR_FENCE:
                r.problems.append(
                    Problem(
                        r.path,
                        line,
                        f"write the fence as ```{FACILITATOR_FENCE}"
                        f" (found ```{token.info.strip()}); it is treated as "
                        "facilitator notes",
                        "warning",
                    )
                )
        offset = 0
        for child in token.children or ():
            if child.type in ("softbreak", "hardbreak"):
                offset += 1
            elif child.type == "html_inline":
                _raw_html(r, line + offset, child.content)
            attr = {"link_open": "href", "image": "src"}.get(child.type)
            if attr:
                _check_link(r, line + offset, str(child.attrs.get(attr, "")), path, links)
            # Raw HTML over two lines, or an image's alt text over two, moves the line on too.
            if child.type == "html_inline":
                offset += child.content.count("\n")
            breaks = ("softbreak", "hardbreak")
            offset += sum(1 for c in child.children or () if c.type in breaks)


def _raw_html(r: _Reader, line: int, content: str) -> None:
    snippet = " ".join(content.split())[:40]
    r.error(
        line,
        f"raw HTML is not allowed and would show as text: {snippet} (write it in Markdown instead)",
    )


def _check_link(r: _Reader, line: int, href: str, path: Path, links: LinkContext) -> None:
    link = resolve_link(href, path, links)
    if link.kind == "scheme":
        r.error(line, f"links starting with '{link.target}:' are not allowed: {href[:60]}")
    elif link.kind == "missing":
        r.error(line, f"link to a {link.target} that does not exist")
    elif link.kind == "unserved":
        r.error(
            line,
            f"link to {link.target}, a file type participants are not served; use "
            + ", ".join(sorted(ASSET_TYPES)),
        )
    elif link.kind == "outside":
        r.error(
            line,
            f"link to '{link.target}' points outside the program; link to a module "
            "file (02-next.md) or to a file in assets/ (../assets/handout.pdf)",
        )
