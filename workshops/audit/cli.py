"""`flask audit ...`: check the journal's chain and list its entries (for the administrator,
on the machine itself)."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup

from workshops.audit import queries, services
from workshops.extensions import db

audit = AppGroup("audit", help="Check and read the audit journal.")


@audit.command("verify")
def verify_command() -> None:
    """Check that no entry of the journal was changed or removed.

    Exit status 0 when the chain is intact (prints the count and the last hash: keep them to
    notice later that the newest entries were removed), 1 when it is broken (says where).
    """
    result = services.verify_chain(db.session)
    db.session.rollback()
    if not result.ok:
        click.echo(result.describe(), err=True)
        raise SystemExit(1)
    click.echo(result.describe())


@audit.command("list")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Only entries from this day on (YYYY-MM-DD, Paris time).")
@click.option("--action", type=click.Choice(sorted(services.ACTIONS)), default=None,
              help="Only entries of this action.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True,
              help="At most this many entries, the newest first.")
def list_command(since: datetime | None, action: str | None, limit: int) -> None:
    """List the journal's entries, the newest first: number, time (UTC), action, account,
    object and details (ids, codes and counts only)."""
    if since is not None:
        since = since.replace(tzinfo=ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]))
    rows = queries.list_entries(db.session, since=since, action=action, limit=limit)
    db.session.rollback()
    if not rows:
        click.echo("No entries.")
        return
    for row in rows:
        obj = f"{row.object_type}:{row.object_ref}" if row.object_type or row.object_ref else "-"
        click.echo("\t".join([str(row.id), row.occurred_dt.strftime("%Y-%m-%dT%H:%M:%SZ"), row.action,
                              str(row.actor_id or "-"), obj,
                              json.dumps(row.details, sort_keys=True, ensure_ascii=False)]))
