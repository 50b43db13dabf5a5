"""`flask privacy export|erase|purge|register`: data-subject rights and retention by hand."""

from __future__ import annotations

import uuid
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from workshops.backup.services import backup_dir, scrub_after_erasure
from workshops.core import logs
from workshops.core.db import begin_write
from workshops.core.models import utcnow
from workshops.extensions import db
from workshops.families.models import Family
from workshops.privacy import export_services, retention_services
from workshops.privacy.register import controller_of, register_markdown
from workshops.sync.erasure_services import erase_family

privacy = AppGroup("privacy", help="Export or erase a household, apply retention, print the register.")


def _family(family_id: uuid.UUID) -> Family:
    family = db.session.get(Family, family_id)
    if family is None or family.is_purged:
        raise click.ClickException(f"No household has the id {family_id} (or it was erased).")
    return family


@privacy.command("export")
@click.argument("family_id", metavar="FAMILY", type=click.UUID)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write.")
@click.option(
    "--format", "fmt", type=click.Choice(export_services.FORMATS), default="json", show_default=True
)
def export_command(family_id: uuid.UUID, out: Path, fmt: str) -> None:
    """Write everything held about household FAMILY (its id) as JSON or CSV (UTF-8 with BOM,
    one row per value). Writes a "family_export" journal entry."""
    begin_write(db.session)
    data = export_services.export_family(db.session(), _family(family_id), None, fmt)
    db.session.commit()
    out.write_bytes(data)
    click.echo(f"Wrote {out}.")


@privacy.command("erase")
@click.argument("family_id", metavar="FAMILY", type=click.UUID)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_command(family_id: uuid.UUID, yes: bool) -> None:
    """Anonymise household FAMILY for good, with the households merged into it: names, phone
    numbers, e-mails, commune, notes, consents and notice of the household and its people;
    attendance and handovers stay as counts. The next sync carries the erasure to the hub."""
    begin_write(db.session)
    family = _family(family_id)
    if not yes:
        click.confirm("Erase this household for good? This cannot be undone", abort=True)
    count = erase_family(db.session(), family, None, utcnow())
    db.session.commit()
    scrub_after_erasure(current_app._get_current_object(), count.family_ids)
    click.echo(
        f"Erased: {count.guardians} guardian(s), {count.children} child(ren); kept "
        f"{count.registrations_kept} registration(s) and {count.handovers} handover(s) as counts."
    )


@privacy.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would go; change nothing.")
def purge_command(dry_run: bool) -> None:
    """Anonymise households inactive for RETENTION_MONTHS, remove log files older than
    LOG_RETENTION_DAYS and manual backups older than BACKUP_RETENTION_DAYS (a laptop's daily job
    does the same)."""
    begin_write(db.session)
    result = retention_services.purge(
        db.session(),
        utcnow(),
        current_app.config["RETENTION_MONTHS"],
        logs.log_dir(current_app),
        current_app.config["LOG_RETENTION_DAYS"],
        dry_run=dry_run,
        backup_directory=backup_dir(current_app),
        backup_days=current_app.config["BACKUP_RETENTION_DAYS"],
    )
    if dry_run:
        db.session.rollback()
        click.echo(f"Would anonymise {result.families} household(s), remove {result.log_files} log "
                   f"file(s) and {result.backups} old backup(s).")
        return
    db.session.commit()
    if result.families:
        scrub_after_erasure(current_app._get_current_object())
    click.echo(f"Anonymised {result.families} household(s), removed {result.log_files} log file(s) "
               f"and {result.backups} old backup(s).")


@privacy.command("register")
@click.option("--out", required=True, type=click.Path(dir_okay=False, allow_dash=True), help="File to write.")
def register_command(out: str) -> None:
    """Write the register of processing (GDPR art. 30) made from the data inventory, as Markdown."""
    text = register_markdown(controller_of(current_app.config), current_app.config["RETENTION_MONTHS"])
    if out == "-":
        click.echo(text)
        return
    Path(out).write_text(text, encoding="utf-8")
    click.echo(f"Wrote {out}.")
