"""`flask users ...`: accounts from the command line."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from workshops.auth import queries, services, totp_services
from workshops.core.db import begin_write
from workshops.core.errors import ValidationFailed
from workshops.core.security import ROLES
from workshops.extensions import db

users = AppGroup("users", help="Manage staff accounts.")


@users.command("create")
@click.option("--username", prompt="Login name", help="Login name (case does not matter).")
@click.option("--name", "display_name", prompt="Full name", help="Name shown in the app.")
@click.option("--role", type=click.Choice(ROLES), default=None,
              help="Role; the first account is always an admin. Default: conseiller.")
@click.option("--structure", "structure_name", default="", help="Name of the structure.")
@click.password_option(help="Asked for with confirmation when not given.")
def create_command(username: str, display_name: str, role: str | None, structure_name: str,
                   password: str) -> None:
    """Create a staff account (the first one is the administrator)."""
    begin_write(db.session)
    first = not services.has_any_user(db.session)
    structure_id = None
    if structure_name:
        structure = queries.get_structure_by_name(db.session, structure_name)
        if structure is None:
            raise click.ClickException(f"No structure named {structure_name!r}.")
        structure_id = structure.id
    new = services.NewUser(username=username, display_name=display_name, password=password,
                           role="admin" if first else (role or "conseiller"),
                           structure_id=structure_id)
    try:
        user = services.create_user(db.session, new, structure_name=structure_name)
    except ValidationFailed as error:
        db.session.rollback()
        raise click.ClickException(
            " ".join(str(message) for _, message in error.reasons)) from None
    db.session.commit()
    click.echo(f"Account {user.username!r} created with role {user.role}.")


@users.command("reset-code")
@click.argument("username")
def reset_code_command(username: str) -> None:
    """Reset the login code (second factor) of an account: it sets one up again at its next
    login. For a hub whose only administrator lost their phone."""
    begin_write(db.session)
    user = queries.get_user_by_username(db.session, username)
    if user is None:
        raise click.ClickException(f"No account named {username!r}.")
    if not totp_services.reset_totp(db.session, user, actor=None):
        db.session.rollback()
        click.echo(f"Account {user.username!r} has no login code yet: nothing to reset.")
        return
    db.session.commit()
    click.echo(f"Login code of {user.username!r} reset: it sets one up again at its next login.")
