"""Placeholder replaced by `flask families ...`."""
from flask.cli import AppGroup

families = AppGroup("families", help="Import and manage families.")
