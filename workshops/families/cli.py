"""`flask families import`: a collège's list from the command line, through the same
reading, preview and confirmation as the import screens."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from workshops.auth import queries as auth_queries
from workshops.auth.models import User
from workshops.auth.services import normalize_username
from workshops.core.db import begin_write
from workshops.core.errors import Conflict, NotAllowed, ValidationFailed
from workshops.extensions import db
from workshops.families import import_rows, import_services, importers
from workshops.families.import_rows import FIELDS, KIND, FamilyImport
from workshops.scheduling import queries as scheduling_queries

families = AppGroup("families", help="Import and manage families.")

DUPLICATE_CODES = ("duplicate", "duplicate_in_file")
T = TypeVar("T")


class ImportFailed(click.ClickException):
    """The run did not do what was asked; the report, if asked for, says why."""


@families.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--workshop", "workshop_id", help="Id of the atelier to register the families to.")
@click.option("--status", type=click.Choice(["registered", "invited"]), default="registered",
              show_default=True, help="How the families go on the atelier's list.")
@click.option("--allow-overbooking", is_flag=True,
              help="Register them even over the atelier's capacity.")
@click.option("--dry-run", is_flag=True, help="Read and check every row; write nothing.")
@click.option("--report-json", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every row's line, outcome and reasons to this JSON file.")
@click.option("--as", "username", help="Login name of the account importing "
              "(default: the only active administrator).")
@click.option("--structure", "structure_name",
              help="Name of the structure that follows the families (default: the account's).")
@click.option("--skip-duplicates", is_flag=True,
              help="Do not write the rows flagged as possible duplicates.")
def import_command(path: Path, workshop_id: str | None, status: str, allow_overbooking: bool,
                   dry_run: bool, report_path: Path | None, username: str | None,
                   structure_name: str | None, skip_duplicates: bool) -> None:
    """Import a collège's list of families from PATH (CSV or XLSX).

    The columns are those chosen the last time a file with the same headers was
    imported through the screens, else guessed from the headers. Rows with a warning
    are written (unless --skip-duplicates drops the possible duplicates); refused rows
    are skipped and listed in the report: they do not make the run fail. Everything is
    written in one transaction.

    Exit status 0 when the run did what was asked: a dry run that could read the file,
    or a real run whose transaction was committed. 1 otherwise (unreadable file,
    columns not found, unknown account, structure or atelier, over capacity without
    --allow-overbooking, a row refused on writing), and then nothing was written.
    """
    report: dict[str, Any] = {"file": str(path), "rows": [], "counts": {}, "written": 0,
                              "dry_run": dry_run}
    try:
        _run(path, report, workshop_id=workshop_id, status=status, username=username,
             structure_name=structure_name, allow_overbooking=allow_overbooking,
             skip_duplicates=skip_duplicates)
    except ImportFailed as error:
        db.session.rollback()
        report["error"] = error.message
        raise
    finally:
        if report_path is not None:
            report_path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")


def _run(path: Path, report: dict[str, Any], *, workshop_id: str | None, status: str,
         username: str | None, structure_name: str | None, allow_overbooking: bool,
         skip_duplicates: bool) -> None:
    if not report["dry_run"]:
        begin_write(db.session)
    table = importers.read_table(path.read_bytes())
    if table.problem:
        raise ImportFailed(f"{path}: {table.problem}")
    actor = actor_for(username)
    workshop = _workshop(actor, workshop_id)
    options = FamilyImport(actor, structure_for(actor, structure_name, workshop), workshop, status)
    mapping = file_mapping(table)
    preview = import_rows.preview_families(db.session, table, mapping, options)
    report["rows"], report["counts"] = preview.report(), preview.counts
    echo_preview(preview)
    if report["dry_run"]:
        click.echo("Dry run: nothing was written.")
        return
    included = [row.line for row in preview.rows if not any(row.has(code) for code in DUPLICATE_CODES)] \
        if skip_duplicates else None
    done = committed(lambda: import_services.confirm_family_import(
        db.session, preview, options, included_warnings=included, allow_overbooking=allow_overbooking))
    report["written"] = done.written
    click.echo(f"Families written: {done.written}; registered to the atelier: {done.registered}; "
               f"rows skipped: {done.skipped}.")


def committed(confirm: Callable[[], T]) -> T:
    """Run an import's confirmation and commit; any refusal becomes an ImportFailed saying
    that nothing was written (the caller rolls back)."""
    try:
        done = confirm()
        db.session.commit()
    except ValidationFailed as error:
        raise ImportFailed("Nothing was written: " + " ".join(
            str(message) for _field, message in error.reasons)) from None
    except (NotAllowed, Conflict) as error:
        raise ImportFailed(f"Nothing was written: the account may not do this ({error}).") from None
    except SQLAlchemyError as error:
        raise ImportFailed(f"Nothing was written: the database refused the change "
                           f"({type(error).__name__}).") from None
    return done


def actor_for(username: str | None) -> User:
    if username:
        user = db.session.scalar(select(User).where(User.username == normalize_username(username)))
        if user is None or not user.is_active or user.deleted_dt is not None:
            raise ImportFailed(f"No active account with the login name {username!r}.")
        return user
    admins = list(db.session.scalars(select(User).where(
        User.role == "admin", User.is_active.is_(True), User.deleted_dt.is_(None)).limit(2)))
    if len(admins) != 1:
        raise ImportFailed("Say which account imports with --as LOGIN "
                           "(there is not exactly one active administrator).")
    return admins[0]


def _workshop(actor: User, workshop_id: str | None):
    if not workshop_id:
        return None
    try:
        wanted = uuid.UUID(workshop_id)
    except ValueError:
        raise ImportFailed(f"{workshop_id!r} is not an atelier id.") from None
    workshop = scheduling_queries.get_workshop_for(db.session, actor, wanted)
    if workshop is None:
        raise ImportFailed(f"No atelier {workshop_id} that {actor.username!r} may use.")
    return workshop


def structure_for(actor: User, structure_name: str | None, workshop) -> uuid.UUID:
    if structure_name:
        structure = auth_queries.get_structure_by_name(db.session, structure_name)
        visible = auth_queries.visible_structure_ids(actor)
        if structure is None or (visible is not None and structure.id not in visible):
            raise ImportFailed(f"No structure named {structure_name!r} that {actor.username!r} may use.")
        return structure.id
    if actor.structure_id is not None:
        return actor.structure_id
    if workshop is not None:
        return workshop.structure_id
    raise ImportFailed(f"{actor.username!r} belongs to no structure: say which one with --structure.")


def file_mapping(table: importers.Table, kind: str = KIND,
                 fields: Sequence[importers.Field] = FIELDS) -> dict[str, int]:
    """The columns remembered for these headers, else guessed; ImportFailed when a required
    one is missing (the screens let the user choose them once, then they are remembered)."""
    mapping, _remembered = importers.proposed_mapping(db.session, kind, table.headers, fields)
    problems = importers.mapping_problems(mapping, fields)
    if problems:
        missing = ", ".join(str(spec.label) for spec in fields if spec.key in dict(problems))
        raise ImportFailed(f"Columns not found or used twice: {missing}. Import the file once "
                           "through the screens to choose its columns: they are remembered.")
    return mapping


def echo_preview(preview: importers.Preview) -> None:
    counts = preview.counts
    click.echo(f"Rows: {len(preview.rows)}; ok: {counts['ok']}; with a warning: {counts['warning']}; "
               f"refused: {counts['refused']}.")
    for row in preview.rows:
        if row.outcome != "ok":
            click.echo(f"  line {row.line}: {row.outcome}: {' '.join(row.messages)}")
