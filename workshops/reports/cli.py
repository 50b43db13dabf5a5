"""`flask reports export`: the dashboard's exports from the command line (read only)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from flask.cli import AppGroup

from workshops.audit.apart import record_apart
from workshops.core.models import utcnow
from workshops.extensions import db
from workshops.families.cli import actor_for
from workshops.reports.exports import export
from workshops.reports.forms import EXPORT_FORMATS, EXPORT_KINDS, KIND_FORMATS
from workshops.reports.queries import Filters
from workshops.scheduling.localtime import local_today

reports = AppGroup("reports", help="Export the managers' figures.")


@reports.command("export")
@click.argument("kind", type=click.Choice(EXPORT_KINDS))
@click.option("--from", "date_from", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="First day of the period (Paris date, YYYY-MM-DD).")
@click.option("--to", "date_to", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="Last day of the period, included.")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="xlsx", show_default=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write.")
@click.option("--as", "username", help="Login name of the account whose scope is exported "
              "(default: the only active administrator).")
def export_command(kind: str, date_from: datetime, date_to: datetime, fmt: str, out: Path,
                   username: str | None) -> None:
    """Write the KIND export (ateliers, attendance, handovers, indicators, cra or beneficiaries)
    of a period.

    The same files as the dashboard's download links, with no other filter: CSV in UTF-8
    with BOM and semicolons, or XLSX. Only cra (La Coop's activity report of each atelier) and
    beneficiaries (La Coop's import workbook, XLSX only) name people: the guardians whose family
    agreed. Exit status 1 when the period is reversed, the format not offered for KIND or the
    account unknown.
    """
    first, last = date_from.date(), date_to.date()
    if first > last:
        raise click.ClickException("--from is after --to.")
    if fmt not in KIND_FORMATS[kind]:
        raise click.ClickException(f"The {kind} export exists as XLSX only, the layout La Coop "
                                   "imports: use --format xlsx.")
    user = actor_for(username)
    now = utcnow()
    body, _, _ = export(kind, fmt, db.session, user, Filters(first, last), now, local_today(now))
    out.write_bytes(body)
    record_apart(db.engine, "export", actor_id=user.id, object_type="report", object_ref=kind,
                 details={"format": fmt, "from": first.isoformat(), "to": last.isoformat()})
    click.echo(f"Wrote {out} ({len(body)} bytes).")

