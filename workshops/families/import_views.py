"""Import of a collège's list: upload, columns, preview, confirm, result.

The file waits on the server between the steps (see import_services); the pages pass
only its random token. Nothing is written before the confirmation, except the column
mapping remembered for the next file with the same headers.
"""

from __future__ import annotations

import uuid

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_datetime
from flask_babel import gettext as _

from workshops.auth import queries as auth_queries
from workshops.core.errors import NotAllowed, ValidationFailed
from workshops.core.forms import choices, parse_uuid
from workshops.extensions import db
from workshops.families import import_forms as forms
from workshops.families import import_rows, import_services, importers
from workshops.families.import_rows import FIELDS, KIND, FamilyImport
from workshops.families.import_steps import (
    chosen_structure_id,
    included_warnings,
    mapping_step,
    max_bytes,
    offer_structures,
    pending_folder,
    pending_upload,
)
from workshops.scheduling import queries as scheduling_queries

bp = Blueprint("imports", __name__, url_prefix="/import/familles")

@bp.route("", methods=["GET", "POST"])
def upload():
    """Step 1: the file, the structure that follows the families, an optional atelier."""
    form = forms.UploadForm()
    _upload_choices(form)
    status = 200
    if form.validate_on_submit():
        workshop = _workshop(parse_uuid(form.workshop_id.data))
        data = form.file.data.read(max_bytes() + 1)
        table = importers.read_table(data, max_bytes=max_bytes())
        structure_id = chosen_structure_id(form, _("Choose the structure that follows the families."))
        if table.problem:
            form.file.errors.append(table.problem)
            status = 413 if len(data) > max_bytes() else 400
        elif structure_id is not None:
            token = import_services.store_upload(pending_folder(), data, {
                "user_id": str(g.user.id), "kind": KIND, "structure_id": str(structure_id),
                "workshop_id": str(workshop.id) if workshop else "", "status": form.status.data})
            return redirect(url_for(".mapping", token=token))
    return render_template("imports/upload.html", form=form, max_mb=max_bytes() // (1024 * 1024),
                           max_rows=importers.MAX_ROWS), status


def _upload_choices(form: forms.UploadForm) -> None:
    workshops = [w for w in scheduling_queries.list_workshops(db.session, g.user, upcoming=True)
                 if w.status != "cancelled"]
    # The atelier page links here with its own id: offer it even once it has
    # ended (a list can come after the day), unless it was cancelled.
    linked = parse_uuid(request.args.get("workshop_id"))
    if linked is not None and linked not in {w.id for w in workshops}:
        atelier = scheduling_queries.get_workshop_for(db.session, g.user, linked)
        if atelier is not None and atelier.status != "cancelled":
            workshops.insert(0, atelier)
    form.workshop_id.choices = choices([("", _("— no atelier —"))] + [
        (str(w.id), _("%(title)s (%(date)s)", title=w.title, date=format_datetime(w.start_dt, "short")))
        for w in workshops])
    if request.method == "GET":
        # The atelier page links here with its own id.
        form.workshop_id.data = request.args.get("workshop_id", "")
    offer_structures(form)


def _workshop(workshop_id: uuid.UUID | None):
    """The atelier chosen, None when none was; a 404 when it is not the user's to use."""
    if workshop_id is None:
        return None
    return scheduling_queries.get_workshop_for(db.session, g.user, workshop_id) or abort(404)


def _pending() -> import_services.PendingUpload | None:
    return pending_upload(KIND)


def _expired():
    return render_template("imports/expired.html")


@bp.route("/colonnes", methods=["GET", "POST"])
def mapping():
    """Step 2: which column holds what; proposed from last time or from the headers."""
    pending = _pending()
    if pending is None:
        return _expired()
    return mapping_step(pending, KIND, FIELDS, forms.FamilyMappingForm(token=pending.token))


def _prepared(pending: import_services.PendingUpload):
    """(preview, options, mapping) of a pending file; None when its columns are not chosen."""
    table = importers.read_table(pending.data, max_bytes=max_bytes())
    raw = pending.meta.get("mapping")
    chosen = importers.clean_mapping(raw, table.headers, FIELDS) if isinstance(raw, dict) else {}
    if not raw or importers.mapping_problems(chosen, FIELDS):
        return None
    options = FamilyImport(actor=g.user, structure_id=parse_uuid(pending.meta.get("structure_id")),
                           workshop=_workshop(parse_uuid(pending.meta.get("workshop_id"))),
                           status=pending.meta.get("status") or "registered")
    return import_rows.preview_families(db.session, table, chosen, options), options, chosen


@bp.route("/apercu")
def preview():
    """Step 3: each row ok, warned or refused, with its reasons; nothing written yet."""
    pending = _pending()
    if pending is None:
        return _expired()
    prepared = _prepared(pending)
    if prepared is None:
        return redirect(url_for(".mapping", token=pending.token))
    result, options, chosen = prepared
    show = request.args.get("show")
    show = show if show in importers.OUTCOMES else None
    rows = [row for row in result.rows if show in (None, row.outcome)]
    form = forms.ConfirmForm(token=pending.token, warned_shown="1" if show in (None, "warning") else "")
    structure = auth_queries.get_structure(db.session, options.structure_id) if options.structure_id else None
    return render_template(
        "imports/preview.html", preview=result, rows=rows, show=show, form=form, token=pending.token,
        options=options, structure=structure, has_consent_column="consent" in chosen,
        places_left=import_services.places_left(db.session, options.workshop) if options.workshop else None,
        would_overbook=import_services.would_overbook(db.session, options, len(result.to_write())),
        status_label=forms.STATUS_LABELS.get(options.status, ""))


@bp.route("/confirmer", methods=["POST"])
def confirm():
    """Step 4: write the ok rows and the warned rows kept, in one transaction."""
    form = forms.ConfirmForm()
    pending = _pending()
    if pending is None:
        return _expired()
    prepared = _prepared(pending) if form.validate_on_submit() else None
    if prepared is None:
        return redirect(url_for(".mapping", token=pending.token))
    result, options, _chosen = prepared
    try:
        done = import_services.confirm_family_import(
            db.session, result, options, included_warnings=included_warnings(form),
            allow_overbooking=form.allow_overbooking.data)
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except ValidationFailed as error:
        db.session.rollback()
        for _field, message in error.reasons:
            flash(str(message), "error")
        return redirect(url_for(".preview", token=pending.token))
    db.session.commit()
    import_services.discard_upload(pending_folder(), pending.token)
    session["import_result"] = {
        "written": done.written, "registered": done.registered, "skipped": done.skipped,
        "workshop_id": str(options.workshop.id) if options.workshop else "",
        "workshop_title": options.workshop.title if options.workshop else ""}
    return redirect(url_for(".result"))


@bp.route("/resultat")
def result():
    """What the last confirmed import of this session wrote, with where to go next."""
    outcome = session.get("import_result")
    workshop_url = None
    if outcome and outcome.get("workshop_id"):
        workshop_url = url_for("scheduling.workshop", workshop_id=outcome["workshop_id"])
    return render_template("imports/result.html", outcome=outcome, workshop_url=workshop_url)
