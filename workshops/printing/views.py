"""The printed documents over the web: each one as an inline PDF, the atelier's print page,
"print everything for this atelier" (rendered by a child process, printing/batch.py) with its
progress, the print links of the atelier and family pages, and the reports on paper: La Coop's
activity report (fiche CRA) of an atelier or of every atelier in the dashboard's filters, and
the funders' one-page indicators report.

Every PDF is made in memory and sent with `Cache-Control: no-store` and a file name without
personal data. Another structure's atelier, family or handover is "not found" (404).
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from workshops.audit.apart import record_apart
from workshops.core.forms import parse_uuid
from workshops.core.models import utcnow
from workshops.core.security import roles_required
from workshops.equipment import handover_queries
from workshops.extensions import db
from workshops.families import queries as family_queries
from workshops.families.family_panels import register_family_panel
from workshops.families.notices import CURRENT_NOTICE, NOTICE_TEMPLATES, notice_template
from workshops.families.registration_queries import PLACE_STATUSES, sheet_order_roster
from workshops.printing import batch, pdf, report_documents
from workshops.printing.documents import (
    NotAttended,
    certificate_document,
    receipt_document,
    sheet_document,
    summary_document,
)
from workshops.printing.notebooks import guide_document, notebook_document
from workshops.printing.notice import notice_document, notice_html
from workshops.reports import queries as report_queries
from workshops.reports.forms import FilterForm
from workshops.scheduling import queries as scheduling_queries
from workshops.scheduling.localtime import local_today
from workshops.scheduling.panels import Panel, register_panel

bp = Blueprint("printing", __name__)

LANGUAGE_LABELS = {"fr": _l("French"), "en": _l("English"), "ar": _l("Arabic")}
PAGE_FORMATS = ("a4", "a5")
MAX_BLANK_ROWS = 60
# The family page offers the guide of the family's latest ateliers.
FAMILY_PANEL_ATELIERS = 3


def _workshop(workshop_id):
    return scheduling_queries.get_workshop_for(db.session, g.user, workshop_id) or abort(404)


def _family(family_id):
    return family_queries.get_family_for(db.session, g.user, family_id) or abort(404)


def _language(default: str) -> str:
    value = request.args.get("langue")
    return value if value in pdf.FAMILY_LANGUAGES else default


def _flag(name: str) -> bool:
    return request.args.get(name) in ("1", "on", "true")


def pdf_response(data: bytes, filename: str) -> Response:
    """A PDF shown in the browser, never kept in a cache."""
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "no-store"})


def _send(document: pdf.Document) -> Response:
    return pdf_response(pdf.render(document).pdf, document.filename)


# ---------- One document ----------

@bp.route("/ateliers/<uuid:workshop_id>/imprimer/feuille")
def sheet(workshop_id):
    lines = request.args.get("lignes", type=int)
    blank_rows = None if lines is None else min(max(lines, 0), MAX_BLANK_ROWS)
    return _send(sheet_document(db.session, _workshop(workshop_id), blank_rows=blank_rows))


@bp.route("/ateliers/<uuid:workshop_id>/imprimer/resume")
def summary(workshop_id):
    return _send(summary_document(db.session, _workshop(workshop_id)))


@bp.route("/ateliers/<uuid:workshop_id>/familles/<uuid:family_id>/attestation")
def certificate(workshop_id, family_id):
    workshop = _workshop(workshop_id)
    family = _family(family_id)
    try:
        document = certificate_document(db.session, workshop, family,
                                        language=_language(pdf.family_language(family)))
    except NotAttended:
        return render_template("printing/unavailable.html", workshop=workshop,
                               title=_("Certificate of attendance"),
                               message=_("A certificate of attendance is printed only for a family marked "
                                         "present at the atelier. Mark the family present first."))
    return _send(document)


@bp.route("/familles/<uuid:family_id>/carnet")
def notebook(family_id):
    family = _family(family_id)
    workshop = None
    if request.args.get("atelier"):
        workshop_id = parse_uuid(request.args["atelier"])
        workshop = _workshop(workshop_id) if workshop_id else abort(404)
    page_format = request.args.get("format", "a4")
    return _send(notebook_document(
        db.session, family, workshop=workshop, language=_language(pdf.family_language(family)),
        page_format=page_format if page_format in PAGE_FORMATS else "a4",
        large_print=_flag("gros"), show_name=_flag("nom")))


@bp.route("/ateliers/<uuid:workshop_id>/familles/<uuid:family_id>/guide")
def guide(workshop_id, family_id):
    workshop = _workshop(workshop_id)
    family = _family(family_id)
    return _send(guide_document(db.session, family, workshop, language=_language(pdf.family_language(family)),
                                large_print=_flag("gros")))


@bp.route("/remises/<uuid:handover_id>/recu")
def receipt(handover_id):
    handover = handover_queries.get_handover_for(db.session, g.user, handover_id) or abort(404)
    return _send(receipt_document(db.session, handover, language=request.args.get("langue")
                                  if request.args.get("langue") in pdf.FAMILY_LANGUAGES else None))


# ---------- The atelier's print page ----------

def is_held(workshop) -> bool:
    """Whether the atelier took place (ended, not cancelled), as the reports count it."""
    return workshop.status != "cancelled" and workshop.end_dt <= utcnow()


def _print_rows(workshop):
    """The families holding a place, in the sheet's order, each with its print language."""
    return [(row, pdf.languages_of([row.language])) for row in sheet_order_roster(db.session, workshop)
            if row.status in PLACE_STATUSES]


@bp.route("/ateliers/<uuid:workshop_id>/imprimer")
def print_page(workshop_id):
    workshop = _workshop(workshop_id)
    return render_template("printing/print.html", workshop=workshop, rows=_print_rows(workshop),
                           languages=LANGUAGE_LABELS, blank_rows=current_app.config["PRINT_BLANK_ROWS"],
                           job=batch.job_of(g.user.id, workshop.id), is_held=is_held(workshop))


# ---------- Print everything: a child process renders, the browser follows ----------

@bp.route("/ateliers/<uuid:workshop_id>/imprimer/tout", methods=["GET", "POST"])
def batch_page(workshop_id):
    workshop = _workshop(workshop_id)
    if request.method == "POST":
        batch.start(g.user.id, workshop, current_app.config, current_app.instance_path)
        return redirect(url_for(".batch_page", workshop_id=workshop.id), 303)
    job = batch.job_of(g.user.id, workshop.id)
    return render_template("printing/batch.html", workshop=workshop, job=job,
                           families=len(_print_rows(workshop)))


@bp.route("/ateliers/<uuid:workshop_id>/imprimer/tout/etat")
def batch_status(workshop_id):
    workshop = _workshop(workshop_id)
    job = batch.job_of(g.user.id, workshop.id)
    if job is None:
        return jsonify({"state": "none", "done": 0, "total": 0})
    answer = job.as_json()
    if job.state == "done":
        answer["download"] = url_for(".batch_pdf", workshop_id=workshop.id)
    return jsonify(answer)


@bp.route("/ateliers/<uuid:workshop_id>/imprimer/tout/pdf")
def batch_pdf(workshop_id):
    workshop = _workshop(workshop_id)
    job = batch.take_pdf(g.user.id, workshop.id)
    if job is None:  # not ready, or already downloaded
        return render_template("printing/unavailable.html", workshop=workshop,
                               title=_("Print everything for this atelier"),
                               message=_("No PDF is ready for you here: it is still being prepared, or it "
                                         "was already opened. Start the printing again if you need it."))
    return pdf_response(job.pdf, job.filename)


# ---------- The reports on paper (same roles and filters as /rapports) ----------

REPORT_ROLES = ("conseiller", "manager", "admin")


def _report_filters(now) -> report_queries.Filters:
    """The dashboard's filters from the query string (reports.forms.FilterForm.query_args)."""
    form = FilterForm(request.args)
    form.validate()
    return form.to_filters(local_today(now))


@bp.route("/ateliers/<uuid:workshop_id>/fiche-cra.pdf")
@roles_required(*REPORT_ROLES)
def cra_sheet(workshop_id):
    """La Coop's activity report of one atelier; a message page (200) until it is held."""
    workshop = _workshop(workshop_id)
    document = report_documents.cra_sheet_document(db.session, g.user, workshop, utcnow())
    if document is None:
        return render_template("printing/unavailable.html", workshop=workshop,
                               title=_("La Coop activity report"),
                               message=_("The La Coop activity report of an atelier exists once the atelier "
                                         "is held: when it has ended and was not cancelled."))
    # It names the guardians who agreed to be named: an export of personal data.
    record_apart(db.engine, "export", actor_id=g.user.id, object_type="workshop", object_ref=str(workshop.id),
                 details={"format": "pdf", "report": "cra"})
    return _send(document)


@bp.route("/rapports/fiches-cra.pdf")
@roles_required(*REPORT_ROLES)
def cra_sheets():
    """One La Coop activity report per atelier held in the dashboard's filters."""
    now = utcnow()
    document = report_documents.cra_sheets_document(db.session, g.user, _report_filters(now), now)
    if document is None:
        return render_template("printing/no_report.html", title=_("La Coop activity reports"),
                               message=_("No atelier held in this period with these filters: there is no "
                                         "activity report to print. Choose a longer period or remove a "
                                         "filter; an atelier counts once it has ended."))
    filters = _report_filters(now)
    record_apart(db.engine, "export", actor_id=g.user.id, object_type="report", object_ref="cra_sheets",
                 details={"format": "pdf", "from": filters.date_from.isoformat(),
                          "to": filters.date_to.isoformat()})
    return _send(document)


@bp.route("/rapports/indicateurs.pdf")
@roles_required(*REPORT_ROLES)
def funders_report():
    """The funders' one-page indicators report for the dashboard's filters."""
    now = utcnow()
    return _send(report_documents.funders_document(db.session, g.user, _report_filters(now), now,
                                                   local_today(now)))


# ---------- The privacy notice for families ----------

@bp.route("/confidentialite")
def notice_page():
    """The privacy notice on screen, to read with a family, in French, English or Arabic, with
    the links to print it; `?version=` shows an earlier wording a family was given."""
    language = _language("fr")
    version = request.args.get("version", CURRENT_NOTICE)
    if notice_template(version) is None:
        abort(404)
    return render_template("printing/notice.html", language=language, version=version,
                           current=CURRENT_NOTICE, versions=sorted(NOTICE_TEMPLATES, reverse=True),
                           languages=LANGUAGE_LABELS, text=notice_html(language, version))


@bp.route("/confidentialite/notice.pdf")
def notice_pdf():
    """The printed notice: `?langue=fr|en|ar`, `&version=`, `&gros=1` for large print."""
    version = request.args.get("version", CURRENT_NOTICE)
    if notice_template(version) is None:
        abort(404)
    return _send(notice_document(_language("fr"), version, large_print=_flag("gros")))


# ---------- Links on the atelier and family pages ----------

@register_panel
def print_panel(workshop, user) -> Panel | None:
    """The atelier page's print links (the fiche CRA once the atelier is held)."""
    return Panel("printing/_atelier_panel.html", {"is_held": is_held(workshop)}, order=90)


@register_family_panel
def family_print_panel(family, user) -> Panel | None:
    """The family page's notebook and guide links, in the family's language."""
    registrations = sorted((r for r in family_queries.live_registrations(db.session, family.id)
                            if r.workshop.deleted_dt is None),
                           key=lambda r: r.workshop.start_dt, reverse=True)[:FAMILY_PANEL_ATELIERS]
    language = pdf.family_language(family)
    return Panel("printing/_family_panel.html", {
        "language": language, "language_label": LANGUAGE_LABELS[language],
        "workshops": [r.workshop for r in registrations]}, order=90)
