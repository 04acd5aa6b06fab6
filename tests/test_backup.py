"""Backup and restore: a round trip through the CLI that loses nothing."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
FLASK = [sys.executable, "-m", "flask", "--app", "intervention"]


def _flask(*args: str, instance: Path, url: str | None = None, check: bool = True):
    env = {k: v for k, v in os.environ.items() if k != "INTERVENTION_DATABASE_URL"}
    env["INTERVENTION_INSTANCE"] = str(instance)
    # As `make run` does: seed-demo refuses in production, which is the default.
    env["INTERVENTION_ENV"] = "development"
    env.pop("FLASK_APP", None)
    if url:
        env["INTERVENTION_DATABASE_URL"] = url
    result = subprocess.run(
        [*FLASK, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def _seed(instance: Path, url: str | None = None) -> None:
    _flask("db", "upgrade", instance=instance, url=url)
    _flask("curriculum", "sync", instance=instance, url=url)
    _flask("seed-demo", instance=instance, url=url)


def _snapshot(url: str) -> dict:
    """Row count of every table, and a few values a loss would change."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            counts = {
                t: conn.scalar(sa.select(sa.func.count()).select_from(sa.table(t))) for t in tables
            }
            emails = sorted(conn.scalars(sa.text("SELECT email FROM users")))
            hashes = sorted(conn.scalars(sa.text("SELECT hash FROM audit_events")))
            cases = sorted(conn.scalars(sa.text("SELECT case_number FROM enrollments")))
    finally:
        engine.dispose()
    return {"counts": counts, "emails": emails, "hashes": hashes, "cases": cases}


def test_sqlite_round_trip_loses_nothing(tmp_path):
    instance = tmp_path / "live"
    _seed(instance)
    live = next(instance.glob("*.sqlite3"))
    before = _snapshot(f"sqlite:///{live}")
    assert before["counts"]["users"] >= 5 and before["counts"]["audit_events"] > 0

    backup = tmp_path / "backups" / "night.sqlite3"
    result = _flask("backup", str(backup), instance=instance)
    assert "Backup written" in result.stdout
    assert _flask("backup", str(backup), instance=instance, check=False).returncode == 1

    target = tmp_path / "restored" / "db.sqlite3"
    restored_url = f"sqlite:///{target}"
    _flask("restore", str(backup), instance=tmp_path / "other", url=restored_url)
    assert _snapshot(restored_url) == before

    # A database that holds data is not overwritten without --force.
    refused = _flask(
        "restore", str(backup), instance=tmp_path / "other", url=restored_url, check=False
    )
    assert refused.returncode == 1 and "--force" in refused.stderr
    with sqlite3.connect(target) as conn:
        conn.execute("DELETE FROM audit_events")
    _flask("restore", "--force", str(backup), instance=tmp_path / "other", url=restored_url)
    assert _snapshot(restored_url) == before


@pytest.mark.skipif(
    not os.environ.get("INTERVENTION_DATABASE_URL", "").startswith("postgresql"),
    reason="the suite runs on SQLite",
)
def test_postgresql_round_trip_loses_nothing(tmp_path):
    base = sa.engine.make_url(os.environ["INTERVENTION_DATABASE_URL"])
    names = [f"intervention_bk_{uuid.uuid4().hex[:8]}", f"intervention_rs_{uuid.uuid4().hex[:8]}"]
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        live, copy = (base.set(database=n).render_as_string(hide_password=False) for n in names)
        _seed(tmp_path / "live", live)
        before = _snapshot(live)
        dump = tmp_path / "night.dump"
        _flask("backup", str(dump), instance=tmp_path / "live", url=live)
        _flask("restore", str(dump), instance=tmp_path / "other", url=copy)
        assert _snapshot(copy) == before
        refused = _flask("restore", str(dump), instance=tmp_path / "other", url=copy, check=False)
        assert refused.returncode == 1 and "--force" in refused.stderr
        _flask("restore", "--force", str(dump), instance=tmp_path / "other", url=copy)
        assert _snapshot(copy) == before
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
