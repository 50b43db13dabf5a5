"""App-wide commands: serve the app on the laptop."""

from __future__ import annotations

import threading
import webbrowser

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from waitress import serve

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; keep 127.0.0.1 on a laptop.")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
@click.option("--open-browser/--no-browser", default=False,
              help="Open the default browser on the app once it listens.")
@with_appcontext
def serve_command(host: str, port: int, threads: int, open_browser: bool) -> None:
    """Serve the app with waitress (a production WSGI server), offline."""
    app = current_app._get_current_object()
    url = f"http://{host}:{port}/"
    # Features add checks that say plainly what to install (printing: HarfBuzz subsetting).
    for check in app.extensions.get("startup_checks", ()):
        for problem in check():
            click.echo(f"Warning: {problem}", err=True)
    if host not in LOOPBACK:
        click.echo(f"Warning: listening on {host}, so other machines of this network reach the app; "
                   "on a laptop keep 127.0.0.1.", err=True)
    click.echo(f"workshops is ready on {url} (Ctrl+C to stop)")
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    try:
        serve(app, host=host, port=port, threads=threads, ident="workshops")
    finally:
        # Features let go of what they hold while serving (the backup's server lock).
        for stop in app.extensions.get("serve_stops", ()):
            stop()


def init_app(app: Flask) -> None:
    """Register the app-wide commands."""
    app.cli.add_command(serve_command)
