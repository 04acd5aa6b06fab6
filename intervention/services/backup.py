"""Back up and restore the whole database: SQLite's online backup API, or pg_dump/pg_restore."""

from __future__ import annotations

import os
import shutil
import sqlite3

# Safe: subprocess runs fixed argument lists (pg_dump, pg_restore), never a shell.
import subprocess  # nosec B404
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from . import ServiceError


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise ServiceError("An in-memory SQLite database cannot be backed up.")
    return Path(url.database)


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    raise ServiceError(
        f"{name} was not found. Install the PostgreSQL client tools "
        f"(Debian: apt-get install postgresql-client) and try again."
    )


def _pg_args(url: URL) -> tuple[list[str], dict[str, str]]:
    """Connection options from the URL; the password goes in the environment, not argv."""
    args = []
    if url.host:
        args += ["-h", url.host]
    if url.port:
        args += ["-p", str(url.port)]
    if url.username:
        args += ["-U", url.username]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _run(argv: list[str], env: dict[str, str]) -> None:
    # Safe: argv is a list starting with a resolved pg_dump/pg_restore path; no shell.
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # nosec B603
    if result.returncode != 0:
        name = Path(argv[0]).name
        raise ServiceError(f"{name} failed ({result.returncode}): {result.stderr.strip()}")


def backup(database_url: str, target: Path) -> Path:
    """Write a consistent copy of the live database to target (which must not exist)."""
    url = make_url(database_url)
    target = Path(target)
    if target.exists():
        raise ServiceError(f"{target} already exists; choose a new file name.")
    target.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(_sqlite_path(url))
        dest = sqlite3.connect(target)
        try:
            with dest:
                source.backup(dest)
        finally:
            dest.close()
            source.close()
        return target
    if url.get_backend_name() == "postgresql":
        args, env = _pg_args(url)
        dump = [_pg_tool("pg_dump"), "-Fc", "--no-owner", *args, "-f", str(target), url.database]
        _run(dump, env)
        return target
    raise ServiceError(f"Backups of {url.get_backend_name()} databases are not supported.")


def _sqlite_has_tables(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    conn = sqlite3.connect(path)
    try:
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()
        return tables[0] > 0
    finally:
        conn.close()


def _pg_has_tables(url: URL) -> bool:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            count = conn.scalar(
                sa.text(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
                )
            )
    finally:
        engine.dispose()
    return bool(count)


def restore(database_url: str, source: Path, *, force: bool = False) -> None:
    """Replace the database's contents with a backup; refuses a non-empty target unless forced."""
    url = make_url(database_url)
    source = Path(source)
    if not source.is_file():
        raise ServiceError(f"{source}: no such backup file.")
    if url.get_backend_name() == "sqlite":
        path = _sqlite_path(url)
        if _sqlite_has_tables(path) and not force:
            raise ServiceError(f"{path} already holds data; add --force to overwrite it.")
        path.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(source)
        dest = sqlite3.connect(path)
        try:
            with dest:
                src.backup(dest)
        finally:
            dest.close()
            src.close()
        return
    if url.get_backend_name() == "postgresql":
        if _pg_has_tables(url) and not force:
            raise ServiceError(f"Database {url.database} already holds data; add --force.")
        args, env = _pg_args(url)
        _run(
            [
                _pg_tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                *args,
                "-d",
                url.database,
                str(source),
            ],
            env,
        )
        return
    raise ServiceError(f"Restoring {url.get_backend_name()} databases is not supported.")
