"""Command-line tools: curriculum, demo data, audit chain check, retention, backup and restore,
and purging ended sessions, the operator's reset of a staff member's second factors, and the
development signing CA."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .extensions import db

curriculum_cli = AppGroup("curriculum", help="Check and load the programs in curricula/.")
audit_cli = AppGroup("audit", help="Check the audit log.")
notices_cli = AppGroup("notices", help="Non-compliance notices to the courts.")
retention_cli = AppGroup("retention", help="Anonymise closed cases past their retention period.")
sessions_cli = AppGroup("sessions", help="Browser sessions kept on the server.")
accounts_cli = AppGroup("accounts", help="Staff accounts: what only the server's operator may do.")
signing_cli = AppGroup("signing", help="The key and certificate that sign court documents.")


def _as_given(path: Path) -> Path:
    """Print paths relative to where the author stands, when that is shorter."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


@curriculum_cli.command("check")
@click.argument("path", required=False, type=click.Path(path_type=Path))
def curriculum_check(path: Path | None) -> None:
    """Report every problem in the curricula as path:line: message."""
    from .curriculum.loader import load_program
    from .curriculum.sync import program_folders

    root = _as_given(path or Path(current_app.config["CURRICULA_PATH"]))
    if not root.exists():
        click.echo(f"{root}: no such file or folder", err=True)
        sys.exit(1)
    folders = [root] if (root / "program.yaml").exists() else program_folders(root)
    if not folders:
        click.echo(f"{root}:1: no program folders (a folder with program.yaml) found", err=True)
        sys.exit(1)
    errors = warnings = 0
    for folder in folders:
        _program, problems = load_program(folder)
        for problem in problems:
            click.echo(str(problem))
        errors += sum(p.severity == "error" for p in problems)
        warnings += sum(p.severity != "error" for p in problems)
    click.echo(f"{len(folders)} program(s) checked: {errors} error(s), {warnings} warning(s)")
    sys.exit(1 if errors else 0)


@curriculum_cli.command("sync")
def curriculum_sync() -> None:
    """Store a new immutable version of each program whose files changed."""
    from .curriculum.sync import sync_curricula

    results = sync_curricula(_as_given(Path(current_app.config["CURRICULA_PATH"])))
    failed = False
    for result in results:
        if result.version is None:
            failed = True
            click.echo(f"{result.slug}: not loaded, fix these first:")
            for problem in result.problems:
                click.echo(f"  {problem}")
        elif result.created:
            click.echo(
                f"{result.slug}: new version {result.version.label} ({result.version.short_hash})"
            )
            for change in result.changes:
                click.echo(f"  - {change}")
        else:
            click.echo(f"{result.slug}: unchanged ({result.version.short_hash})")
    db.session.commit()
    sys.exit(1 if failed else 0)


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing (exit 0) when data already exists.")
@click.option("--scale", type=click.IntRange(min=1), help="Make N participants in bulk instead.")
@click.option(
    "--certificates",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="With --scale: issue real certificates for up to this many completed men.",
)
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --scale: write sample objects for the benchmarks to this JSON file.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="With --scale: the seed.")
def seed_demo(
    if_empty: bool, scale: int | None, certificates: int, manifest: Path | None, seed: int
) -> None:
    """Add demo courts, a cohort partway through and the demo accounts (empty database only);
    with --scale N, N participants with realistic history, for benchmarks."""
    if current_app.config["ENV_NAME"] == "production":
        # Demo and scale data come with published passwords: never in production, not even
        # with --if-empty, so a deploy script that runs this fails loudly.
        click.echo(
            "Refused: seed-demo adds accounts with published passwords, so it never runs in "
            "production. For a development server set INTERVENTION_ENV=development "
            "(`make run` does).",
            err=True,
        )
        sys.exit(1)
    if scale is not None:
        _seed_scale(scale, certificates, manifest, seed, if_empty)
        return
    from .demo import DemoRefused, seed

    try:
        summary = seed()
    except DemoRefused as exc:
        if if_empty:
            click.echo(f"Demo data not added: {exc}")
            return
        click.echo(f"Refused: {exc}", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(summary)


def _seed_scale(n: int, certificates: int, manifest: Path | None, seed: int, if_empty: bool):
    from .demo.scale import PASSWORD, ScaleRefused, generate

    try:
        summary = generate(n, certificates=certificates, seed=seed, manifest=manifest)
    except ScaleRefused as exc:
        if if_empty:
            click.echo(f"Scale data not added: {exc}")
            return
        click.echo(f"Refused: {exc}", err=True)
        sys.exit(1)
    click.echo(
        ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in summary.counts.items())
    )
    if manifest is not None:
        click.echo(f"Manifest written to {manifest}.")
    click.echo(
        f"Scale data for {n} participants added in {summary.seconds:.1f} s. "
        f"Every account's password is '{PASSWORD}' (e.g. admin@scale.test)."
    )


@audit_cli.command("verify")
def audit_verify() -> None:
    """Check every event's link and seal, the log against the newest signed checkpoint, and
    every stored certificate and court document against its issue event."""
    from .services import audit, certificates, documents

    report = audit.verify_chain()
    failed = not report.ok
    if report.ok:
        anchor = report.checkpoint
        click.echo(
            f"Audit chain intact: {report.events} event(s), each sealed with the audit key. "
            + (
                f"Newest checkpoint: {anchor.count} event(s), signed {anchor.at}: the log still "
                "holds it."
                if anchor is not None
                else "No checkpoint yet: the log is empty."
            )
        )
    elif report.broken is not None:
        broken = report.broken
        click.echo(
            f"Audit chain broken at event {broken.id} ({broken.action}, {broken.at}). "
            f"{report.problem}",
            err=True,
        )
    else:
        click.echo(f"Audit chain broken: {report.problem}", err=True)
    files = (
        ("Certificate", certificates.check_all(), lambda row: f"Certificate {row.number}"),
        ("Court document", documents.check_all(), lambda row: "Court document"),
    )
    for label, results, name in files:
        checked = 0
        for row, result in results:
            checked += 1
            if not result.intact:
                failed = True
                click.echo(
                    f"{name(row)} (#{row.id}) cannot be confirmed: {result.problem}", err=True
                )
        click.echo(f"{label}s checked against their issue events: {checked}.")
    sys.exit(1 if failed else 0)


@audit_cli.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the log as it stands (count and last hash) into the checkpoint folder; run it
    from cron every minute so no quiet spell leaves the newest events unanchored."""
    from .services import audit

    try:
        signed = audit.checkpoint()
    except audit.CheckpointRefused as exc:
        click.echo(f"Checkpoint refused: {exc} Run `audit verify`.", err=True)
        sys.exit(1)
    click.echo(
        f"Checkpoint signed: {signed.count} event(s), head {signed.head[:16]}…, {signed.at}."
    )


@audit_cli.command("rekey")
def audit_rekey() -> None:
    """Once, for a database from before the audit key: seal its events with the key."""
    from .services import ServiceError, audit

    try:
        done = audit.rekey()
    except ServiceError as exc:
        db.session.rollback()
        click.echo(f"Not re-keyed: {exc}", err=True)
        sys.exit(1)
    db.session.commit()
    signed, moved = audit.reanchor("rekey")
    click.echo(
        f"Re-keyed {done.events} event(s) ({done.unkeyed} written before the key); the old "
        f"head was {done.old_head}. New checkpoint: {signed.count} event(s)."
    )
    if moved is not None:
        click.echo(f"Earlier checkpoints kept in {moved}.")


@notices_cli.command("scan")
def notices_scan() -> None:
    """Draft notices for rules broken by the passage of time (gap, deadline); run daily."""
    from .services.notices import overdue, scan

    drafted = scan()
    db.session.commit()
    for notice in drafted:
        e = notice.enrollment
        click.echo(f"{e.case_number} ({e.court.name}): {notice.reason} Due {notice.due_on}.")
    click.echo(f"{len(drafted)} notice(s) drafted; {len(overdue())} overdue.")


@retention_cli.command("apply")
@click.option("--dry-run", is_flag=True, help="Report what would be anonymised; change nothing.")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Count retention periods up to this day (YYYY-MM-DD) instead of today.",
)
def retention_apply(dry_run: bool, today) -> None:
    """Anonymise closed cases older than their program's retention_years, unless on hold."""
    from .services.retention import KEPT, apply

    report = apply(today.date() if today else None, dry_run=dry_run)
    if not dry_run:  # a dry run changed nothing, so there is nothing to commit
        db.session.commit()
    verb = "would be" if dry_run else "were"
    programs = sorted(set(report.anonymised) | set(report.texts_only) | set(report.held))
    for title in programs:
        click.echo(
            f"{title}: {report.anonymised[title]} case(s) anonymised, "
            f"{report.texts_only[title]} case(s) texts removed only (the man has another "
            f"open case), {report.held[title]} on legal hold"
        )
    click.echo(f"{report.total} case(s) {verb} anonymised as of {report.today}.")
    click.echo(KEPT)
    if dry_run:
        click.echo("Dry run: nothing was changed.")


@sessions_cli.command("purge")
def sessions_purge() -> None:
    """Delete sessions past their idle timeout; run daily."""
    from .auth.sessions import purge_expired

    removed = purge_expired()
    db.session.commit()
    click.echo(f"{removed} expired session(s) removed.")


@accounts_cli.command("reset-second-factor")
@click.argument("email")
@click.option("--reason", required=True, help="Why, for the audit log (e.g. who checked his ID).")
def reset_second_factor(email: str, reason: str) -> None:
    """Remove the second factors of a staff member who lost his phone, passkeys and recovery
    codes; his next sign-in sets up a new one. Check who he is in person first, and send him
    a new invitation link so only he can sign in."""
    from sqlalchemy import func, select

    from .models import User
    from .services import ServiceError
    from .services.second_factor import reset_by_operator

    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"no account with the email {email}")
    try:
        reset_by_operator(user, reason)
    except ServiceError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"{user.email}: second factors removed; the next sign-in sets up a new one.")


def _database_url() -> str:
    return current_app.config["SQLALCHEMY_DATABASE_URI"]


@click.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
def backup_command(path: Path) -> None:
    """Write a consistent copy of the database to PATH (SQLite file or pg_dump archive)."""
    from .services import ServiceError
    from .services.backup import backup

    try:
        backup(_database_url(), path)
    except ServiceError as exc:
        click.echo(f"Backup failed: {exc}", err=True)
        sys.exit(1)
    click.echo(f"Backup written to {path} ({path.stat().st_size} bytes).")


@click.command("restore")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite a database that already holds data.")
def restore_command(path: Path, force: bool) -> None:
    """Replace the database with the backup at PATH."""
    from .services import ServiceError
    from .services.backup import restore

    db.session.remove()
    db.engine.dispose()  # no open connection may hold the database during the restore
    try:
        restore(_database_url(), path, force=force)
    except ServiceError as exc:
        click.echo(f"Restore failed: {exc}", err=True)
        sys.exit(1)
    click.echo(f"Restored {path}.")
    _reanchor_after_restore()


def _reanchor_after_restore() -> None:
    """A restore takes the log back to the backup: checkpoints signed since then vouch for
    events that are gone. Those are set aside, kept, and the restored log is signed, so the
    next `audit verify` checks against what was deliberately put back."""
    from .services import audit

    moved = None
    try:
        signed = audit.checkpoint()
    except audit.CheckpointRefused:
        signed, moved = audit.reanchor("restore")
    db.session.rollback()  # only read
    if moved is not None:
        click.echo(f"Audit checkpoints from before the restore kept in {moved}.")
    click.echo(f"Audit log anchored at {signed.count} event(s).")


@signing_cli.command("init")
@click.option(
    "--folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to put signing/ (default: the instance folder, which development reads).",
)
@click.option("--force", is_flag=True, help="Replace an existing development CA and key.")
def signing_init(folder: Path | None, force: bool) -> None:
    """Make a development program CA and signing certificate (EC P-256), named as such.
    Production uses the program's own: INTERVENTION_SIGNING_KEY and INTERVENTION_SIGNING_CERT."""
    from .signing import make_dev_ca

    paths = make_dev_ca(folder or current_app.instance_path, force=force)
    click.echo(f"Development signing key:         {paths['key']}")
    click.echo(f"Development signing certificate: {paths['cert']}")
    click.echo(f"Development CA certificate:      {paths['ca']}")
    click.echo("Development only: courts cannot trust this CA.")


def register(app: Flask) -> None:
    app.cli.add_command(signing_cli)
    app.cli.add_command(curriculum_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(notices_cli)
    app.cli.add_command(seed_demo)
    app.cli.add_command(retention_cli)
    app.cli.add_command(sessions_cli)
    app.cli.add_command(accounts_cli)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
