"""`flask print ...`: the printed documents from the command line (ids are UUIDs; `--out -`
writes the PDF to stdout), and the start-up check of the PDF engine for `flask serve`."""

from __future__ import annotations

import sys
import uuid

import click
from flask import Flask
from flask.cli import AppGroup

from workshops.equipment.models import Handover
from workshops.extensions import db
from workshops.families.models import Family
from workshops.printing import batch, pdf
from workshops.printing.documents import receipt_document, sheet_document
from workshops.printing.notebooks import notebook_document
from workshops.scheduling.models import Workshop

printing = AppGroup("print", help="Print documents to PDF files.")


def _row(model, row_id: uuid.UUID, what: str):
    row = db.session.get(model, row_id)
    if row is None or getattr(row, "deleted_dt", None) is not None:
        raise click.ClickException(f"No {what} has the id {row_id}.")
    return row


def _write(rendered: pdf.Rendered, out: str) -> None:
    if rendered.warnings:
        click.echo(f"{len(rendered.warnings)} warning(s) while rendering.", err=True)
    if out == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(rendered.pdf)
        sys.stdout.buffer.flush()
        return
    with open(out, "wb") as handle:
        handle.write(rendered.pdf)
    click.echo(f"{out}: {rendered.pages} page(s).", err=True)


OUT = click.option("--out", required=True, help="The PDF file to write, or - for stdout.")


@printing.command("sheet")
@click.argument("atelier", type=click.UUID)
@click.option("--lines", type=click.IntRange(0, 60), default=None, help="Blank rows for walk-ins.")
@OUT
def sheet(atelier: uuid.UUID, lines: int | None, out: str) -> None:
    """The attendance sheet of ATELIER."""
    _write(pdf.render(sheet_document(db.session, _row(Workshop, atelier, "atelier"), blank_rows=lines)), out)


@printing.command("notebook")
@click.argument("family", type=click.UUID)
@click.option("--lang", type=click.Choice(pdf.FAMILY_LANGUAGES), default=None,
              help="Language (default: the family's).")
@click.option("--format", "page_format", type=click.Choice(("a4", "a5")), default="a4", show_default=True)
@click.option("--large", is_flag=True, help="Large print.")
@click.option("--name", "show_name", is_flag=True, help="Print the family's name on the cover.")
@OUT
def notebook(family: uuid.UUID, lang: str | None, page_format: str, large: bool, show_name: bool,
             out: str) -> None:
    """The password notebook of FAMILY (blank forms, filled in by hand)."""
    row = _row(Family, family, "family")
    _write(pdf.render(notebook_document(db.session, row, language=lang, page_format=page_format,
                                        large_print=large, show_name=show_name)), out)


@printing.command("receipt")
@click.argument("handover", type=click.UUID)
@OUT
def receipt(handover: uuid.UUID, out: str) -> None:
    """The receipt of HANDOVER (two copies)."""
    _write(pdf.render(receipt_document(db.session, _row(Handover, handover, "handover"))), out)


@printing.command("batch")
@click.argument("atelier", type=click.UUID)
@OUT
def batch_command(atelier: uuid.UUID, out: str) -> None:
    """Everything for ATELIER in one PDF: the sheet, each family's notebook and guide.
    Progress on stderr ("12/40")."""
    documents = batch.batch_documents(db.session, _row(Workshop, atelier, "atelier"))
    db.session.rollback()  # the data is read: end the read transaction before rendering

    def progress(done: int, total: int) -> None:
        click.echo(f"{done}/{total}", err=True)

    _write(batch.render_in_chunks(documents, progress=progress), out)


def startup_problems() -> list[str]:
    """What `flask serve` says before starting (printing's part)."""
    problem = pdf.harfbuzz_problem()
    return [problem] if problem else []


def init_app(app: Flask) -> None:
    """Register `flask print` and printing's start-up check."""
    app.cli.add_command(printing)
    app.extensions.setdefault("startup_checks", []).append(startup_problems)
