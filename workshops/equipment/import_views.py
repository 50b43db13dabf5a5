"""The delivery list import screens: upload, column mapping, preview, confirm, result.

The same steps as the family import (families/import_views.py), with its reading, pending
file and remembered mapping: the file waits on the server between the steps and the pages
pass only its random token. Nothing is written before the confirmation, except the column
mapping remembered for the next file with the same headers.
"""

from __future__ import annotations

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
from flask_babel import gettext as _

from workshops.auth import queries as auth_queries
from workshops.core.errors import NotAllowed, ValidationFailed
from workshops.core.forms import parse_uuid
from workshops.equipment import import_forms as forms
from workshops.equipment import import_rows, import_services
from workshops.equipment.import_rows import FIELDS, KIND
from workshops.extensions import db
from workshops.families import import_services as pending_files
from workshops.families import importers
from workshops.families.import_steps import (
    chosen_structure_id,
    included_warnings,
    mapping_step,
    max_bytes,
    offer_structures,
    pending_folder,
    pending_upload,
)

bp = Blueprint("equipment_imports", __name__, url_prefix="/import/materiel")

@bp.route("", methods=["GET", "POST"])
def upload():
    """Step 1: the file, and the structure holding the stock (a conseiller's own)."""
    form = forms.UploadForm()
    offer_structures(form)
    status = 200
    if form.validate_on_submit():
        data = form.file.data.read(max_bytes() + 1)
        table = importers.read_table(data, max_bytes=max_bytes())
        structure_id = chosen_structure_id(form, _("Choose the structure that holds these machines."))
        if table.problem:
            form.file.errors.append(table.problem)
            status = 413 if len(data) > max_bytes() else 400
        elif structure_id is not None:
            token = pending_files.store_upload(pending_folder(), data, {
                "user_id": str(g.user.id), "kind": KIND, "structure_id": str(structure_id)})
            return redirect(url_for(".mapping", token=token))
    return render_template("equipment/import_upload.html", form=form,
                           max_mb=max_bytes() // (1024 * 1024), max_rows=importers.MAX_ROWS), status


def _pending() -> pending_files.PendingUpload | None:
    # A family list waiting under the same account is not this import's.
    return pending_upload(KIND)


def _expired():
    return render_template("equipment/import_expired.html")


@bp.route("/colonnes", methods=["GET", "POST"])
def mapping():
    """Step 2: which column holds what; proposed from last time or from the headers."""
    pending = _pending()
    if pending is None:
        return _expired()
    return mapping_step(pending, KIND, FIELDS, forms.EquipmentMappingForm(token=pending.token))


def _prepared(pending: pending_files.PendingUpload):
    """(preview, structure id) of a pending file; None when its columns are not chosen."""
    table = importers.read_table(pending.data, max_bytes=max_bytes())
    raw = pending.meta.get("mapping")
    chosen = importers.clean_mapping(raw, table.headers, FIELDS) if isinstance(raw, dict) else {}
    structure_id = parse_uuid(pending.meta.get("structure_id"))
    if not raw or importers.mapping_problems(chosen, FIELDS) or structure_id is None:
        return None
    return import_rows.preview_equipment(db.session, table, chosen, structure_id), structure_id


@bp.route("/apercu")
def preview():
    """Step 3: each row ok, warned or refused, with its reasons; nothing written yet."""
    pending = _pending()
    if pending is None:
        return _expired()
    prepared = _prepared(pending)
    if prepared is None:
        return redirect(url_for(".mapping", token=pending.token))
    result, structure_id = prepared
    show = request.args.get("show")
    show = show if show in importers.OUTCOMES else None
    rows = [row for row in result.rows if show in (None, row.outcome)]
    form = forms.ConfirmForm(token=pending.token, warned_shown="1" if show in (None, "warning") else "")
    return render_template("equipment/import_preview.html", preview=result, rows=rows, show=show,
                           form=form, token=pending.token,
                           structure=auth_queries.get_structure(db.session, structure_id))


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
    result, structure_id = prepared
    try:
        done = import_services.confirm_equipment_import(db.session, result, structure_id, g.user,
                                                        included_warnings=included_warnings(form))
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except ValidationFailed as error:
        db.session.rollback()
        for _field, message in error.reasons:
            flash(str(message), "error")
        return redirect(url_for(".preview", token=pending.token))
    db.session.commit()
    pending_files.discard_upload(pending_folder(), pending.token)
    session["equipment_import_result"] = {"written": done.written, "skipped": done.skipped}
    return redirect(url_for(".result"))


@bp.route("/resultat")
def result():
    """What the last confirmed import of this session wrote, with where to go next."""
    return render_template("equipment/import_result.html", outcome=session.get("equipment_import_result"))
