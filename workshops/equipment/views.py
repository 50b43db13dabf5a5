"""The inventory: list with filters and counters, add and edit a machine, its page with its
history and the actions of its life (reserve, restock, faulty, recycled), the stock page."""

from __future__ import annotations

from flask import Blueprint

from workshops.equipment import models  # noqa: F401 (the tables, known to the app and Alembic)

bp = Blueprint("equipment", __name__)
