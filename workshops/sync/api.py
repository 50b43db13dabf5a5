"""The hub's sync API for laptops (JSON, token-authenticated): enrol, hello, push, pull, roll.
Built by issue 6; see /tmp contract."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("sync_api", __name__, url_prefix="/api/sync")
