"""The in-app guide's pages (filled in by the guide's work)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("help", __name__, url_prefix="/aide")
