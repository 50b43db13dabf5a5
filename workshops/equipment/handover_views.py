"""Handing machines over at an atelier (gift or loan, by asset tag typed or scanned), voiding
a mistake, returns, renewals and overdue loans; the atelier page's equipment panel."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("handovers", __name__)
