"""`flask equipment import`: a refurbisher's delivery list from the command line, through the
same reading, preview and confirmation as the import screens."""

from __future__ import annotations

from flask.cli import AppGroup

equipment = AppGroup("equipment", help="Import and manage the equipment inventory.")
