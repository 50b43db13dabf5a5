"""The delivery list import screens: upload, column mapping, preview, confirm."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("equipment_imports", __name__, url_prefix="/import/materiel")
