"""`flask equipment import`: a refurbisher's delivery list from the command line, through the
same reading, preview and confirmation as the import screens, with the report and exit
status of `flask families import`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from workshops.core.db import begin_write
from workshops.equipment import import_rows, import_services
from workshops.equipment.import_rows import FIELDS, KIND
from workshops.extensions import db
from workshops.families import importers
from workshops.families.cli import (
    ImportFailed,
    actor_for,
    committed,
    echo_preview,
    file_mapping,
    structure_for,
)

equipment = AppGroup("equipment", help="Import and manage the equipment inventory.")


@equipment.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--structure", "structure_name",
              help="Name of the structure holding the machines (default: the account's).")
@click.option("--as", "username", help="Login name of the account importing "
              "(default: the only active administrator).")
@click.option("--dry-run", is_flag=True, help="Read and check every row; write nothing.")
@click.option("--report-json", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every row's line, outcome and reasons to this JSON file.")
def import_command(path: Path, structure_name: str | None, username: str | None, dry_run: bool,
                   report_path: Path | None) -> None:
    """Import a refurbisher's delivery list of machines from PATH (CSV or XLSX).

    The columns are those chosen the last time a file with the same headers was
    imported through the screens, else guessed from the headers. Rows with a warning
    are written; refused rows (asset tag missing, twice in the file or already in the
    inventory, unknown kind, impossible date) are skipped and listed in the report:
    they do not make the run fail. Everything is written in one transaction, so a
    second run of the same file adds nothing.

    Exit status 0 when the run did what was asked: a dry run that could read the file,
    or a real run whose transaction was committed. 1 otherwise (unreadable file,
    columns not found, unknown account or structure, a row refused on writing), and
    then nothing was written.
    """
    report: dict[str, Any] = {"file": str(path), "rows": [], "counts": {}, "written": 0,
                              "dry_run": dry_run}
    try:
        _run(path, report, username=username, structure_name=structure_name)
    except ImportFailed as error:
        db.session.rollback()
        report["error"] = error.message
        raise
    finally:
        if report_path is not None:
            report_path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")


def _run(path: Path, report: dict[str, Any], *, username: str | None, structure_name: str | None) -> None:
    if not report["dry_run"]:
        begin_write(db.session)
    table = importers.read_table(path.read_bytes())
    if table.problem:
        raise ImportFailed(f"{path}: {table.problem}")
    actor = actor_for(username)
    structure_id = structure_for(actor, structure_name, None)
    mapping = file_mapping(table, KIND, FIELDS)
    preview = import_rows.preview_equipment(db.session, table, mapping, structure_id)
    report["rows"], report["counts"] = preview.report(), preview.counts
    echo_preview(preview)
    if report["dry_run"]:
        click.echo("Dry run: nothing was written.")
        return
    done = committed(lambda: import_services.confirm_equipment_import(
        db.session, preview, structure_id, actor))
    report["written"] = done.written
    click.echo(f"Machines written: {done.written}; rows skipped: {done.skipped}.")
