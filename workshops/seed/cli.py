"""Placeholder replaced by the seed commands."""
from flask.cli import AppGroup

seed = AppGroup("seed", help="Load reference or demonstration data.")
