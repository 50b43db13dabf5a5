"""Placeholder replaced by the import screens."""
from flask import Blueprint

bp = Blueprint("imports", __name__)
