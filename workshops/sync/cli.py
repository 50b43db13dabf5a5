"""`flask sync ...`: run, status, connect, USB bundles, devices."""

from __future__ import annotations

from flask.cli import AppGroup

sync = AppGroup("sync", help="Sync this laptop with the hub, or manage the hub's devices.")
