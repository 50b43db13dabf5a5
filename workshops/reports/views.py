"""The managers' dashboard (indicators, charts, collection status) and the export downloads.

Managers and admins see every structure; a conseiller, on a laptop or on the hub, sees the
figures of their own structure only. The devices and conflicts of the collection status
exist on the hub only.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, abort, current_app, g, render_template, request
from flask_babel import gettext as _

from workshops.audit.apart import record_apart
from workshops.auth.forms import STRUCTURE_KIND_LABELS
from workshops.core.i18n import format_date
from workshops.core.models import utcnow
from workshops.core.security import roles_required
from workshops.core.taxonomy import AGE_BRACKETS, SOCIAL_STATUSES
from workshops.equipment.forms import GRADE_LABELS, KIND_LABELS
from workshops.equipment.queries import OVERDUE
from workshops.extensions import db
from workshops.reports import charts, exports, queries, status_queries
from workshops.reports.forms import (
    EXPORT_KIND_HELP,
    EXPORT_KIND_LABELS,
    EXPORT_KINDS,
    HANDOVER_MODE_LABELS,
    KIND_FORMATS,
    FilterForm,
)
from workshops.scheduling.forms import WORKSHOP_KIND_LABELS
from workshops.scheduling.localtime import local_today

bp = Blueprint("reports", __name__)


def _form() -> tuple[FilterForm, queries.Filters]:
    form = FilterForm(request.args)
    form.validate()
    form.set_choices(queries.list_filter_choices(db.session, g.user), _("Any"))
    filters = form.to_filters(local_today(utcnow()))
    form.date_from.data, form.date_to.data = filters.date_from, filters.date_to  # the period shown
    return form, filters


def _charts(filters: queries.Filters, now: datetime) -> dict:
    scoped = filters.for_user(g.user)
    months = [(format_date(month, "MMM yy"), count)
              for month, count in queries.list_held_months(db.session, scoped, now)]
    by_epci = queries.list_families_by_epci(db.session, scoped, now)
    return {
        "months": months, "by_epci": by_epci,
        "months_svg": charts.column_chart(
            "chart-months", _("Ateliers held per month"),
            _("One bar per month of the period; the table below gives the same figures."), months),
        "epci_svg": charts.bar_chart(
            "chart-epci", _("Parents reached per EPCI"),
            _("Distinct families present, by EPCI of the venue; the table below gives the same figures."),
            by_epci),
    }


def _collection(filters: queries.Filters, now: datetime) -> dict:
    scoped = filters.for_user(g.user)
    missing = status_queries.list_missing_attendance(db.session, scoped, now)
    status = {"missing": missing[:status_queries.SHOWN], "missing_count": len(missing),
              "is_hub_view": current_app.config["ROLE"] == "hub" and g.user.role in ("manager", "admin")}
    if status["is_hub_view"]:
        days = int(current_app.config["REPORTS_STALE_DEVICE_DAYS"])
        status.update(stale_days=days, conflicts=status_queries.count_conflicts(db.session),
                      stale=status_queries.list_stale_devices(db.session, now, days))
    return status


@bp.route("/rapports")
@roles_required("conseiller", "manager", "admin")
def dashboard():
    form, filters = _form()
    now = utcnow()
    figures = queries.get_indicators(db.session, g.user, filters, now, local_today(now))
    return render_template(
        "reports/dashboard.html", form=form, filters=filters, figures=figures,
        export_args=form.query_args(filters), export_kinds=EXPORT_KINDS, export_formats=KIND_FORMATS,
        export_labels=EXPORT_KIND_LABELS, export_help=EXPORT_KIND_HELP, kind_labels=WORKSHOP_KIND_LABELS,
        structure_labels=STRUCTURE_KIND_LABELS, machine_labels=KIND_LABELS, grade_labels=GRADE_LABELS,
        mode_labels=HANDOVER_MODE_LABELS, brackets=AGE_BRACKETS, statuses=SOCIAL_STATUSES,
        overdue=OVERDUE, **_charts(filters, now), **_collection(filters, now))


@bp.route("/rapports/export")
@roles_required("conseiller", "manager", "admin")
def download():
    """?kind=<forms.EXPORT_KINDS>&format=xlsx|csv plus the dashboard's filters; 404 for a format
    the kind does not come in (the beneficiaries workbook is XLSX only)."""
    kind = request.args.get("kind", "indicators")
    fmt = request.args.get("format", "csv")
    if fmt not in KIND_FORMATS.get(kind, ()):
        abort(404)
    _, filters = _form()
    now = utcnow()
    body, mimetype, name = exports.export(kind, fmt, db.session, g.user, filters, now, local_today(now))
    record_apart(db.engine, "export", actor_id=g.user.id, object_type="report", object_ref=kind,
                 details={"format": fmt, "from": filters.date_from.isoformat(),
                          "to": filters.date_to.isoformat()})
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
