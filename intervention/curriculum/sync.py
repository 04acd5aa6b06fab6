"""Store loaded programs as immutable curriculum versions, rendering their HTML once."""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from ..extensions import db
from ..models import CurriculumAsset, CurriculumVersion, Module, Program, ReflectionPrompt
from .loader import (
    LinkContext,
    LoadedModule,
    LoadedProgram,
    Problem,
    load_program,
    resolve_link,
)
from .render import render_module


@dataclass
class SyncResult:
    slug: str
    version: CurriculumVersion | None
    created: bool
    changes: list[str]
    problems: list[Problem]


def program_folders(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).iterdir() if p.is_dir() and (p / "program.yaml").exists())


def sync_curricula(root: Path) -> list[SyncResult]:
    """Load every program under root; store a new version for each whose files changed."""
    results = []
    for folder in program_folders(root):
        loaded, problems = load_program(folder)
        if loaded is None:
            results.append(SyncResult(folder.name, None, False, [], problems))
            continue
        version, created, changes = store_program(loaded)
        results.append(SyncResult(folder.name, version, created, changes, problems))
    return results


def store_program(loaded: LoadedProgram) -> tuple[CurriculumVersion, bool, list[str]]:
    program = _update_program(loaded)
    existing = db.session.scalar(
        select(CurriculumVersion).where(
            CurriculumVersion.program == program,
            CurriculumVersion.content_hash == loaded.content_hash,
        )
    )
    if existing is not None:
        return existing, False, []
    previous = program.latest_version
    version = CurriculumVersion(
        program=program,
        label=loaded.version,
        content_hash=loaded.content_hash,
        policy=loaded.policy,
        rubric=loaded.rubric,
        module_opens_days_before=loaded.module_opens_days_before,
        reflection_due_days=loaded.reflection_due_days,
    )
    db.session.add(version)
    _store_assets(version, loaded)
    for m in loaded.modules:
        _store_module(version, loaded, m)
    db.session.flush()
    return version, True, _describe_changes(previous, loaded)


def _update_program(loaded: LoadedProgram) -> Program:
    """The program of this slug (created the first time), with its title and settings as loaded."""
    program = db.session.scalar(select(Program).where(Program.slug == loaded.slug))
    if program is None:
        program = Program(slug=loaded.slug)
        db.session.add(program)
    program.title = loaded.title
    program.code = loaded.code
    program.description = loaded.description
    program.language = loaded.language
    program.retention_years = loaded.retention_years
    return program


def _store_assets(version: CurriculumVersion, loaded: LoadedProgram) -> None:
    for rel, content in loaded.assets.items():
        db.session.add(
            CurriculumAsset(
                version=version,
                path=rel,
                media_type=mimetypes.guess_type(rel)[0] or "application/octet-stream",
                content=content,
                sha256=hashlib.sha256(content).hexdigest(),
            )
        )


def _store_module(version: CurriculumVersion, loaded: LoadedProgram, m: LoadedModule) -> None:
    """One module of the version, its HTML rendered now, with its reflection prompts in order."""
    rendered = render_module(
        m.body_markdown, _link_resolver(loaded, m.source_path), loaded.language
    )
    module = Module(
        version=version,
        session_number=m.session,
        source_path=m.source_path,
        title=m.title,
        duration_minutes=m.duration_minutes,
        objectives=m.objectives,
        resources=m.resources,
        body_markdown=m.body_markdown,
        body_html=rendered.body_html,
        facilitator_notes_html=rendered.notes_html,
        toc=rendered.toc,
    )
    db.session.add(module)
    for position, p in enumerate(m.prompts):
        db.session.add(
            ReflectionPrompt(
                module=module,
                key=p.key,
                position=position,
                text=p.text,
                min_words=p.min_words,
                required=p.required,
            )
        )


def _link_resolver(loaded: LoadedProgram, source_path: str):
    """Module links become the session number and asset links `assets/<path>`, both relative
    to whichever module page shows them (see render.py)."""
    folder = loaded.folder
    session_of = {(folder / m.source_path).name: m.session for m in loaded.modules}
    context = LinkContext(
        folder, {(folder / m.source_path).resolve() for m in loaded.modules}, set(loaded.assets)
    )
    module_path = folder / source_path

    def resolve(href: str) -> str | None:
        link = resolve_link(href, module_path, context)
        if link.kind == "module":
            name, _, anchor = link.target.partition("#")
            return f"{session_of[name]}" + (f"#{anchor}" if anchor else "")
        if link.kind == "asset":
            return f"assets/{link.target}"
        return None

    return resolve


def _describe_changes(previous: CurriculumVersion | None, loaded: LoadedProgram) -> list[str]:
    if previous is None:
        return [f"first version: {len(loaded.modules)} modules"]
    old = {m.session_number: m for m in previous.modules}
    new = {m.session: m for m in loaded.modules}
    changes = [f"module {n} added: {new[n].title}" for n in sorted(new.keys() - old.keys())]
    changes += [f"module {n} removed: {old[n].title}" for n in sorted(old.keys() - new.keys())]
    for n in sorted(new.keys() & old.keys()):
        o, m = old[n], new[n]
        old_prompts = [(p.key, p.text, p.min_words, p.required) for p in o.prompts]
        new_prompts = [(p.key, p.text, p.min_words, p.required) for p in m.prompts]
        if (o.title, o.body_markdown, o.duration_minutes, o.objectives, old_prompts) != (
            m.title,
            m.body_markdown,
            m.duration_minutes,
            m.objectives,
            new_prompts,
        ):
            changes.append(f"module {n} edited: {m.title}")
    if previous.policy != loaded.policy:
        changes.append("policy changed")
    return changes or ["files changed (no module content differs)"]
