"""Placeholder replaced by the resources feature."""
from flask import Blueprint

bp = Blueprint("resources", __name__)
