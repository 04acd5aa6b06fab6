"""Programs and their immutable curriculum versions, loaded from curricula/."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow


class Program(db.Model):
    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)  # folder name in curricula/
    code: Mapped[str] = mapped_column(sa.String(12))  # prefix of certificate numbers
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    language: Mapped[str] = mapped_column(sa.String(12), default="en")
    # Closed cases are anonymised this many years after closing (retention apply).
    retention_years: Mapped[int] = mapped_column(default=4, server_default="4")

    versions: Mapped[list[CurriculumVersion]] = relationship(
        back_populates="program", order_by="CurriculumVersion.loaded_at"
    )

    @property
    def latest_version(self) -> CurriculumVersion | None:
        return self.versions[-1] if self.versions else None


class CurriculumVersion(db.Model):
    """One exact state of a program's files; never edited once stored."""

    __tablename__ = "curriculum_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("programs.id"))
    label: Mapped[str] = mapped_column(sa.String(40))  # the authors' "version:" field
    # SHA-256 over every file of the program folder: the version's identity.
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    policy: Mapped[dict] = mapped_column(sa.JSON)  # attendance and completion rules
    rubric: Mapped[list] = mapped_column(sa.JSON, default=list)
    # A module's reading opens this many days before its session starts (0: at the start).
    module_opens_days_before: Mapped[int] = mapped_column(default=0, server_default="0")
    # A reflection is due this many days after its session; None: before the next session.
    reflection_due_days: Mapped[int | None]
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    program: Mapped[Program] = relationship(back_populates="versions")
    modules: Mapped[list[Module]] = relationship(
        back_populates="version", order_by="Module.session_number"
    )
    assets: Mapped[list[CurriculumAsset]] = relationship(back_populates="version")

    __table_args__ = (sa.UniqueConstraint("program_id", "content_hash"),)

    def module(self, session_number: int) -> Module | None:
        return next((m for m in self.modules if m.session_number == session_number), None)

    @property
    def short_hash(self) -> str:
        return self.content_hash[:12]


class Module(db.Model):
    __tablename__ = "modules"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("curriculum_versions.id"))
    session_number: Mapped[int]
    source_path: Mapped[str] = mapped_column(sa.String(255))  # relative to the program folder
    title: Mapped[str] = mapped_column(sa.String(200))
    duration_minutes: Mapped[int]
    # The reading itself is loaded only by a page that shows it (one query for the group):
    # lists of modules, on every participant and facilitator page, need titles and numbers.
    objectives: Mapped[list] = deferred(mapped_column(sa.JSON, default=list), group="reading")
    resources: Mapped[list] = deferred(mapped_column(sa.JSON, default=list), group="reading")
    body_markdown: Mapped[str] = deferred(mapped_column(sa.Text), group="reading")
    # Rendered and sanitised once when the version is stored, never per request.
    body_html: Mapped[str] = deferred(mapped_column(sa.Text), group="reading")
    facilitator_notes_html: Mapped[str] = deferred(
        mapped_column(sa.Text, default=""), group="reading"
    )
    # Headings of the body for its table of contents: [{"level", "id", "title"}].
    toc: Mapped[list] = deferred(
        mapped_column(sa.JSON, default=list, server_default="[]"), group="reading"
    )

    version: Mapped[CurriculumVersion] = relationship(back_populates="modules")
    prompts: Mapped[list[ReflectionPrompt]] = relationship(
        back_populates="module", order_by="ReflectionPrompt.position"
    )

    __table_args__ = (sa.UniqueConstraint("version_id", "session_number"),)


class ReflectionPrompt(db.Model):
    __tablename__ = "reflection_prompts"

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(sa.ForeignKey("modules.id"))
    key: Mapped[str] = mapped_column(sa.String(80))  # the authors' prompt id
    position: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(sa.Text)
    min_words: Mapped[int] = mapped_column(default=0)
    required: Mapped[bool] = mapped_column(default=True)

    module: Mapped[Module] = relationship(back_populates="prompts")

    __table_args__ = (sa.UniqueConstraint("module_id", "key"),)


class CurriculumAsset(db.Model):
    """An image or handout from the program's assets/ folder, kept with its version."""

    __tablename__ = "curriculum_assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("curriculum_versions.id"))
    path: Mapped[str] = mapped_column(sa.String(255))  # relative to assets/
    media_type: Mapped[str] = mapped_column(sa.String(80))
    content: Mapped[bytes] = deferred(mapped_column(sa.LargeBinary, nullable=False))
    sha256: Mapped[str] = mapped_column(sa.String(64))

    version: Mapped[CurriculumVersion] = relationship(back_populates="assets")

    __table_args__ = (sa.UniqueConstraint("version_id", "path"),)
