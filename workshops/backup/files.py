"""Writing database files safely: SQLite's backup API into `*.partial`, fsync, atomic rename.

A database file is never copied byte by byte (a copy taken while the app writes, or without
its `-wal` file, silently misses committed rows): every copy goes through
`sqlite3.Connection.backup`, which reads one consistent snapshot, WAL included.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from workshops.core.db import open_read_only

PARTIAL = ".partial"
# Files SQLite keeps beside a database in WAL mode.
SIDE_FILES = ("-wal", "-shm", "-journal")


def fsync_file(path: Path) -> None:
    """Flush a file's content to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename is durable only then); a no-op where unsupported."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # Windows cannot open a folder: NTFS journals the rename itself
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def remove_database(path: Path) -> None:
    """Delete a database file and the files SQLite keeps beside it."""
    for name in (path.name, *(path.name + suffix for suffix in SIDE_FILES)):
        with contextlib.suppress(FileNotFoundError):
            (path.parent / name).unlink()


def snapshot(source: Path, target: Path, timeout: float = 5.0) -> None:
    """Write one consistent snapshot of the SQLite file `source` into `target` (replaced if it
    exists) with the backup API, as a single file (rollback journal, no `-wal`), fsynced.
    Raises sqlite3.Error when the source cannot be read."""
    remove_database(target)
    reader = open_read_only(source, timeout)
    try:
        writer = sqlite3.connect(target)
        try:
            reader.backup(writer)
            writer.execute("PRAGMA journal_mode=DELETE")
        finally:
            writer.close()
    finally:
        reader.close()
    fsync_file(target)


def publish(partial: Path, final: Path) -> Path:
    """Rename a finished, fsynced `partial` over `final` atomically and make it durable."""
    os.replace(partial, final)
    fsync_folder(final.parent)
    return final


def snapshot_to(source: Path, final: Path, timeout: float = 5.0) -> Path:
    """`snapshot` into `final + .partial`, then `publish` it: `final` is whole or absent."""
    partial = final.with_name(final.name + PARTIAL)
    try:
        snapshot(source, partial, timeout)
    except BaseException:
        remove_database(partial)
        raise
    return publish(partial, final)
