"""Placeholder replaced by the households views."""
from flask import Blueprint

from workshops.families import models  # noqa: F401 (tables known to migrations)

bp = Blueprint("families", __name__)
