"""The hub's pages: devices (laptops), pairing codes, conflicts to review."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("hub", __name__, url_prefix="/hub")
