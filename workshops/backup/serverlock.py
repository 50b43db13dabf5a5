"""A lock file beside the database, held by a serving app, so a restore knows to refuse.

Replacing the database file under a running server would lose its writes (or worse, mix its
old `-wal` file with the restored one). `flask serve` holds a shared lock on
`<database>.serving` as long as it runs; `flask backup restore` asks for an exclusive one and
refuses when it cannot get it. POSIX only (fcntl): on Windows the check always passes, and the
operator's guide says to stop the app first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from flask import Flask

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

_HELD = "workshops_server_lock"


class ServerRunning(Exception):
    """The app is serving this database: stop it before restoring."""


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".serving")


def hold(app: Flask, db_path: Path | None) -> None:
    """Hold the shared lock for as long as the process lives (no-op without fcntl or file)."""
    if fcntl is None or db_path is None or _HELD in app.extensions:
        return
    handle = open(lock_path(db_path), "a+")  # noqa: SIM115 (held open on purpose)
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return
    app.extensions[_HELD] = handle


def release(app: Flask) -> None:
    """Let go of the shared lock (the process ending does it too)."""
    handle = app.extensions.pop(_HELD, None)
    if handle is not None:
        handle.close()


@contextlib.contextmanager
def exclusive(db_path: Path) -> Iterator[None]:
    """While the block runs, no server may start on this database. Raises ServerRunning when
    one holds it already."""
    if fcntl is None:
        yield
        return
    with open(lock_path(db_path), "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            raise ServerRunning(str(db_path)) from error
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
