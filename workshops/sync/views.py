"""The laptop's sync page: connect to the hub, sync now with progress, what is pending."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("sync", __name__, url_prefix="/sync")
