"""`flask seed ...`: load the reference data of the Vienne, or a demonstration."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from workshops.auth import queries as auth_queries
from workshops.core.db import begin_write
from workshops.core.errors import ValidationFailed
from workshops.extensions import db
from workshops.seed.activity import load_activity
from workshops.seed.demo import DEMO_PASSPHRASE, DemoAccount, load_demo
from workshops.seed.reference import load_reference

seed = AppGroup("seed", help="Load reference or demonstration data.")


@seed.command("reference")
def reference_command() -> None:
    """Load the Vienne's EPCI, structures, venues and resources; running it again adds nothing."""
    begin_write(db.session)
    counts = _in_one_transaction(load_reference)
    click.echo("Reference data loaded:")
    _echo_counts(counts)


@seed.command("demo")
def demo_command() -> None:
    """Load the reference data and demo accounts sharing one known passphrase (demo instances only).

    Refused unless the app runs in demo mode (WORKSHOPS_DEMO=1), so that
    no real installation ever holds an account whose password is public.
    """
    _refuse_unless_demo()
    begin_write(db.session)
    counts, accounts = _in_one_transaction(load_demo)
    click.echo("Demo data loaded:")
    _echo_counts(counts)
    _echo_accounts(accounts)


@seed.command("volume")
@click.option("--families", default=10_000, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--workshops", default=2_000, show_default=True, type=click.IntRange(1, 20_000))
@click.option("--registrations", default=50_000, show_default=True, type=click.IntRange(0, 500_000),
              help="Registrations in all, spread evenly over the ateliers.")
def volume_command(families: int, workshops: int, registrations: int) -> None:
    """Build a large made-up data set for benchmarks (demo instances only)."""
    _refuse_unless_demo()
    begin_write(db.session)
    _, accounts = _in_one_transaction(load_demo)
    begin_write(db.session)
    conseiller = auth_queries.get_user_by_username(db.session, accounts[0].username)
    made = _in_one_transaction(lambda session: load_activity(
        session, conseiller, families=families, workshops=workshops,
        registrations_per_workshop=max(0, registrations // workshops), seed=860))
    click.echo(f"Volume data: {made.families} families, {made.workshops} ateliers, "
               f"{made.registrations} registrations.")


def _refuse_unless_demo() -> None:
    if not current_app.config["DEMO"]:
        raise click.ClickException(
            "This is not a demo instance: made-up data is only loaded with WORKSHOPS_DEMO=1, which "
            "also gives the demo its own database file (instance/demo.sqlite). For a real "
            "installation, use `flask seed reference` and `flask users create`.")


def _in_one_transaction(load):
    """Run a loader on the session and commit once; a refused row stops it all."""
    try:
        result = load(db.session)
    except ValidationFailed as error:
        db.session.rollback()
        raise click.ClickException(
            "Nothing was loaded: " + " ".join(str(message) for _, message in error.reasons)) from None
    db.session.commit()
    return result


def _echo_counts(counts: list[tuple[str, int, int]]) -> None:
    for label, total, new in counts:
        click.echo(f"  {label:<24}{total:>5}  ({new} new)")


def _echo_accounts(accounts: list[DemoAccount]) -> None:
    click.echo("")
    click.echo("Demo accounts (all share the same passphrase):")
    click.echo(f"  {'login':<18}{'role':<12}structure")
    for account in accounts:
        note = "" if account.is_new else "  (already there, password unchanged)"
        click.echo(f"  {account.username:<18}{account.role:<12}{account.structure}{note}")
    click.echo(f"  passphrase: {DEMO_PASSPHRASE}")
