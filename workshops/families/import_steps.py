"""The web steps every list import shares (families here, equipment later in the import
order): where the uploaded file waits, its size limit, which structure it is for, the
waiting file of this kind, and the whole column-mapping step.

Each import's views module keeps what is its own (upload fields, preview, confirmation).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

from flask import current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from workshops.auth import queries as auth_queries
from workshops.core.errors import ValidationFailed
from workshops.core.forms import apply_reasons, choices, parse_uuid
from workshops.extensions import db
from workshops.families import import_forms, import_services, importers

# Rows of the file shown under each column choice, to recognise the columns.
SAMPLE_ROWS = 3


def pending_folder() -> Path:
    """Where uploaded lists wait for their confirmation (instance/imports)."""
    return Path(current_app.instance_path) / "imports"


def max_bytes() -> int:
    """The size limit of an uploaded list (IMPORT_MAX_BYTES)."""
    return int(current_app.config["IMPORT_MAX_BYTES"])


def offer_structures(form: FlaskForm) -> None:
    """Managers and admins choose the structure (their own first); a conseiller's list is
    always for their own structure, so the field is removed."""
    if g.user.role in ("manager", "admin"):
        form.structure_id.choices = choices(
            [(str(s.id), s.name) for s in auth_queries.list_structures(db.session, active_only=True)])
        if request.method == "GET":
            form.structure_id.data = str(g.user.structure_id or "")
    else:
        del form.structure_id


def chosen_structure_id(form: FlaskForm, unknown_message: str) -> uuid.UUID | None:
    """The structure the list is for, or None with the reason on the form."""
    if "structure_id" in form:
        chosen = parse_uuid(form.structure_id.data)
        if chosen is None or auth_queries.get_structure(db.session, chosen) is None:
            form.structure_id.errors.append(unknown_message)
            return None
        return chosen
    if g.user.structure_id is None:
        form.form_errors.append(_("Your account belongs to no structure yet: ask an administrator "
                                  "to set it, then import the list."))
    return g.user.structure_id


def pending_upload(kind: str) -> import_services.PendingUpload | None:
    """The user's waiting list of this kind named by the request's token (another kind's
    token is not one)."""
    pending = import_services.load_upload(pending_folder(), request.values.get("token"), g.user.id)
    return pending if pending is not None and pending.meta.get("kind") == kind else None


def mapping_step(pending: import_services.PendingUpload, kind: str, fields: Sequence[importers.Field],
                 form: FlaskForm):
    """Step 2 of an import, GET and POST: which column holds what, proposed from last time
    or from the headers; on a valid choice, remembered and on to the blueprint's preview."""
    table = importers.read_table(pending.data, max_bytes=max_bytes())
    import_forms.set_column_choices(form, fields, table.headers, _("Column %(number)s"),
                                    _("— not in the file —"))
    proposed, remembered = importers.proposed_mapping(db.session, kind, table.headers, fields)
    if request.method == "GET":
        chosen = pending.meta.get("mapping")
        import_forms.fill_mapping(form, fields, importers.clean_mapping(chosen, table.headers, fields)
                                  if isinstance(chosen, dict) else proposed)
    if form.validate_on_submit():
        chosen = import_forms.mapping_of(form, fields)
        problems = importers.mapping_problems(chosen, fields)
        if not problems:
            import_services.remember_mapping(db.session, kind, table.headers, chosen)
            import_services.update_upload(pending_folder(), pending, {"mapping": chosen})
            db.session.commit()
            return redirect(url_for(".preview", token=pending.token))
        apply_reasons(form, ValidationFailed(problems))
    samples = [[cells[i] for _line, cells in table.rows[:SAMPLE_ROWS]] for i in range(len(table.headers))]
    return render_template("imports/mapping.html", form=form, fields=fields, remembered=remembered,
                           headers=table.headers, samples=samples, row_count=len(table.rows))


def included_warnings(form: FlaskForm) -> set[int] | None:
    """The warned lines ticked on the preview; None (all of them) when the confirmation came
    from a page that did not show the warned rows."""
    return {int(v) for v in form.include.data or [] if v.isdigit()} if form.warned_shown.data else None
