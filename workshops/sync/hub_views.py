"""The hub's pages: devices (laptops), pairing codes, conflicts to review.

These pages exist on a hub only: on a laptop their routes are not registered (404), so the
menu and the page crawls of a laptop never meet them.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta

import segno
from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from workshops.auth.queries import list_structures, visible_structure_ids
from workshops.core.errors import ValidationFailed
from workshops.core.forms import apply_reasons, choices
from workshops.core.models import utcnow
from workshops.core.security import roles_required
from workshops.extensions import db
from workshops.sync import conflict_services, device_services, forms, queries

bp = Blueprint("hub", __name__, url_prefix="/hub")



def _qr_svg(text: str) -> Markup:
    """An inline <svg> QR code of `text` (made by segno, so its markup is safe)."""
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="svg", xmldecl=False, svgns=True, nl=False,
                                     border=2, scale=5, omitsize=False)
    return Markup(buffer.getvalue().decode("utf-8"))  # noqa: S704 (segno's own markup)


def _hub_url() -> str:
    """The address laptops use to reach this hub: HUB_URL if set, else this page's address."""
    return (current_app.config.get("HUB_URL") or request.url_root).rstrip("/")


def _code_page(device, code: str):
    """The pairing code, big, as text and as QR code (shown once: only its hash is kept)."""
    payload = json.dumps({"v": 1, "url": _hub_url(), "code": code}, separators=(",", ":"))
    expires = utcnow() + timedelta(minutes=device_services.PAIRING_MINUTES)
    return render_template("sync/hub_device_code.html", device=device, code=code, qr=_qr_svg(payload),
                           hub_url=_hub_url(), expires=expires, minutes=device_services.PAIRING_MINUTES)


# ---------- Devices ----------

@bp.get("/devices")
@roles_required("manager", "admin")
def devices():
    return render_template("sync/hub_devices.html", rows=queries.list_devices(db.session),
                           can_manage=g.user.role == "admin", form=forms.ConfirmForm(),
                           skew_minutes=queries.SKEW_WARNING_MS // 60_000)


@bp.route("/devices/new", methods=("GET", "POST"))
@roles_required("admin")
def device_new():
    form = forms.DeviceForm()
    form.structure_id.choices = choices(
        [("", _("Choose a structure"))]
        + [(str(s.id), s.name) for s in list_structures(db.session, active_only=True)])
    if form.validate_on_submit():
        try:
            device, code = device_services.create_device(
                db.session, form.name.data, _structure_id(form.structure_id.data), g.user)
        except ValidationFailed as error:
            db.session.rollback()
            apply_reasons(form, error)
        else:
            db.session.commit()
            return _code_page(device, code)
    return render_template("sync/hub_device_new.html", form=form)


def _structure_id(value: str):
    structures = list_structures(db.session, active_only=True)
    structure_id = next((s.id for s in structures if str(s.id) == value), None)
    if structure_id is None:
        raise ValidationFailed([("structure_id", _("Choose a structure from the list."))])
    return structure_id


@bp.post("/devices/<uuid:device_id>/code")
@roles_required("admin")
def device_code(device_id):
    device = queries.get_device(db.session, device_id) or abort(404)
    if not forms.ConfirmForm().validate_on_submit():
        abort(400)
    try:
        code = device_services.new_pairing_code(db.session, device)
    except ValidationFailed:
        db.session.rollback()
        flash(_("The laptop %(name)s was revoked: it cannot get a new pairing code. Create a new device "
                "instead.", name=device.name), "error")
        return redirect(url_for(".devices"))
    db.session.commit()
    return _code_page(device, code)


@bp.post("/devices/<uuid:device_id>/revoke")
@roles_required("admin")
def device_revoke(device_id):
    device = queries.get_device(db.session, device_id) or abort(404)
    form = forms.ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    if form.confirm.data != "yes":
        return render_template("sync/hub_device_revoke.html", device=device, form=form)
    device_services.revoke(db.session, device, actor=g.user)
    db.session.commit()
    flash(_("The laptop %(name)s is revoked: the hub refuses it from now on.", name=device.name), "success")
    return redirect(url_for(".devices"))


# ---------- Conflicts ----------

@bp.get("/conflicts")
@roles_required("manager", "admin")
def conflicts():
    visible = visible_structure_ids(g.user)
    rows = queries.list_open_conflicts(db.session)
    shown = {row.conflict.id: not row.is_personal or visible is None or row.structure_id in visible
             for row in rows}
    return render_template("sync/hub_conflicts.html", rows=rows, shown=shown, form=forms.ResolveForm(),
                           labels=forms.table_labels(), total=queries.count_open_conflicts(db.session))


@bp.post("/conflicts/<uuid:conflict_id>/resolve")
@roles_required("manager", "admin")
def conflict_resolve(conflict_id):
    conflict = queries.get_conflict(db.session, conflict_id) or abort(404)
    form = forms.ResolveForm()
    if not form.validate_on_submit():
        flash(_("Choose which value to keep."), "error")
        return redirect(url_for(".conflicts"))
    try:
        conflict_services.resolve(db.session, conflict, form.keep.data, g.user)
    except ValidationFailed as error:
        db.session.rollback()
        flash(" ".join(message for _field, message in error.reasons), "error")
        return redirect(url_for(".conflicts"))
    db.session.commit()
    flash(_("The conflict is resolved: the value chosen is the record's value, and laptops receive it "
            "at their next sync.") if form.keep.data == "other"
          else _("The conflict is resolved: the record keeps its value."), "success")
    return redirect(url_for(".conflicts"))
