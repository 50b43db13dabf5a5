"""Placeholder replaced by the scheduling feature."""
from flask import Blueprint

bp = Blueprint("scheduling", __name__)
