"""The volume data of design.md section 9 for the benchmarks: built once, then copied.

`flask seed volume` (10,000 families, 2,000 ateliers, 50,000 registrations) goes through
the services row by row and takes minutes on the 2-core machine, so it is built once
into bench/.cache/volume-<migration head>.sqlite (outside git) and each run works on a
copy made with SQLite's backup API (never a file copy of a WAL database). A new
migration gives a new head, hence a new cache file; delete bench/.cache to rebuild.
The ateliers are spread from six months before the build to two months after, so a
cache older than MAX_AGE_DAYS is built again: the check-in metrics need upcoming ones.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import sys
import time
from pathlib import Path

from flask_migrate import upgrade

from workshops import create_app
from workshops.core.db import migration_head
from workshops.extensions import db

CACHE = Path(__file__).resolve().parent / ".cache"
# The sizes of section 9, which are also `flask seed volume`'s defaults.
FAMILIES, WORKSHOPS, REGISTRATIONS = 10_000, 2_000, 50_000
# Demo accounts made by `flask seed volume` (workshops/seed/demo.py); every household
# and atelier of the volume data belongs to the conseiller's structure.
CONSEILLER, MANAGER = "demo-conseiller", "demo-manager"
MAX_AGE_DAYS = 30


def cache_path() -> Path:
    return CACHE / f"volume-{migration_head()}.sqlite"


def backup(source: Path, target: Path) -> None:
    """Copy a SQLite database, WAL included, with the backup API."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def build(path: Path) -> float:
    """Migrate a new database and run `flask seed volume` on it; returns the seconds taken."""
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.partial-{os.getpid()}.sqlite")
    for stale in (partial, *(partial.with_name(partial.name + s) for s in ("-wal", "-shm"))):
        stale.unlink(missing_ok=True)
    app = create_app({"DEMO": True, "DATABASE_URL": f"sqlite:///{partial}",
                      "SECRET_KEY": f"volume-{secrets.token_hex(16)}"})
    try:
        with app.app_context():
            upgrade()
            db.engine.dispose()
        result = app.test_cli_runner().invoke(args=[
            "seed", "volume", "--families", str(FAMILIES), "--workshops", str(WORKSHOPS),
            "--registrations", str(REGISTRATIONS)])
        if result.exit_code != 0:
            raise RuntimeError(f"flask seed volume failed: {result.output}") from result.exception
        with app.app_context():
            db.engine.dispose()
        finished = path.with_name(f"{path.stem}.tmp-{os.getpid()}.sqlite")
        backup(partial, finished)  # one self-contained file, WAL folded in
        os.replace(finished, path)
    finally:
        for leftover in (partial, *(partial.with_name(partial.name + s) for s in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
    return time.perf_counter() - started


def volume_copy(target: Path) -> Path:
    """A fresh copy of the volume database at `target`, building the cache if missing."""
    cached = cache_path()
    if cached.exists() and time.time() - cached.stat().st_mtime > MAX_AGE_DAYS * 86400:
        cached.unlink()
    if not cached.exists():
        print(f"Building the volume data into {cached} (once; several minutes)...",
              file=sys.stderr, flush=True)
        seconds = build(cached)
        print(f"Volume data built in {seconds:.0f} s.", file=sys.stderr, flush=True)
    target.unlink(missing_ok=True)
    backup(cached, target)
    return target


if __name__ == "__main__":
    print(f"{cache_path()}: built in {build(cache_path()):.0f} s")
