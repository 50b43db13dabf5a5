"""Placeholder replaced by the registration and check-in screens."""
from flask import Blueprint

bp = Blueprint("attendance", __name__)
