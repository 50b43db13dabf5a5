"""App-wide commands: serve the app on the laptop."""

from __future__ import annotations

import errno
import signal
import socket
import threading
import webbrowser

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from waitress import serve

LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Stop as on Ctrl+C: SIGTERM (a shutdown, `kill`), SIGHUP (the terminal window closed),
# SIGBREAK (Ctrl+Break on Windows).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGBREAK")
                     if hasattr(signal, name))


def _stop_serving(signum, frame):
    """Waitress stops on KeyboardInterrupt: its threads finish, then `serve` returns."""
    raise KeyboardInterrupt


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
    try:
        if _port_in_use(host, port):
            raise click.ClickException(
                f"port {port} is already in use: the app may already be running, open {url} in the "
                "browser; or start it on another port with --port.")
        click.echo(f"workshops is ready on {url} (Ctrl+C to stop)")
        if open_browser:
            threading.Timer(1.0, webbrowser.open, args=(url,)).start()
        for signum in STOP_SIGNALS:
            signal.signal(signum, _stop_serving)
        serve(app, host=host, port=port, threads=threads, ident="workshops")
    finally:
        # Features let go of what they hold while serving (the backup's server lock).
        for stop in app.extensions.get("serve_stops", ()):
            stop()
        # Close the pooled connections: the last one to close folds the WAL into the
        # database file and removes it (a clean stop leaves a single file).
        for engine in app.extensions["sqlalchemy"].engines.values():
            engine.dispose()


def _port_in_use(host: str, port: int) -> bool:
    """Whether another program listens there (asked before waitress, which leaves a half-made
    server behind when its bind fails). SO_REUSEADDR as waitress: a just-stopped app's
    lingering connections do not count."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error.errno == errno.EADDRINUSE
    return False


def init_app(app: Flask) -> None:
    """Register the app-wide commands."""
    app.cli.add_command(serve_command)
