"""The administrator's page of the audit journal: the newest entries, a page at a time.

Shows what the journal holds (action codes, ids, counts) and the acting account's name, which
is staff data; never a family's.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from workshops.audit import queries
from workshops.audit.services import ACTIONS
from workshops.core.security import roles_required
from workshops.extensions import db

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")

PAGE_SIZE = 50


@bp.get("/")
@roles_required("admin")
def entries():
    """The journal, newest first; `?action=` keeps one action (an unknown one is ignored)."""
    action = request.args.get("action") if request.args.get("action") in ACTIONS else None
    total = queries.count_entries(db.session, action=action)
    page = min(max(request.args.get("page", 1, type=int), 1), max(1, -(-total // PAGE_SIZE)))
    rows = queries.list_entries(db.session, action=action, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template("audit/entries.html", rows=rows, total=total, page=page, action=action,
                           has_next=page * PAGE_SIZE < total)
