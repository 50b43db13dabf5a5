"""Handing machines over at an atelier (gift or loan, by asset tag typed or scanned), voiding
a mistake, returns, renewals and overdue loans; the atelier page's equipment panel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from workshops.core.errors import NotAllowed, ValidationFailed
from workshops.core.forms import apply_reasons, choices, parse_uuid
from workshops.core.security import is_safe_redirect
from workshops.equipment import forms as inventory_forms
from workshops.equipment import handover_forms as forms
from workshops.equipment import handover_queries as queries
from workshops.equipment import queries as equipment_queries
from workshops.equipment import services
from workshops.equipment.models import Equipment
from workshops.equipment.terms import Terms, terms_for
from workshops.extensions import db
from workshops.families import merge_queries
from workshops.families import queries as family_queries
from workshops.families.models import Family
from workshops.scheduling import queries as scheduling_queries
from workshops.scheduling.panels import Panel, register_panel

bp = Blueprint("handovers", __name__)

# Atelier kinds where handing over machines is the point: the panel is shown first.
HANDOVER_KINDS = ("remise_equipement", "mixte")


@dataclass(frozen=True)
class Preview:
    """What the screen shows before the final confirm: the machine, the family, the terms."""

    item: Equipment
    family: Family
    family_name: str
    mode: str
    due_on: date | None
    terms: Terms


def _labels() -> dict:
    return {"kinds": inventory_forms.KIND_LABELS, "grades": inventory_forms.GRADE_LABELS,
            "modes": forms.MODE_LABELS, "states": forms.STATE_LABELS, "badges": forms.STATE_BADGES,
            "events_labels": inventory_forms.EVENT_LABELS,
            "languages": forms.LANGUAGE_LABELS}


def _workshop(workshop_id):
    """The atelier in the user's scope; another structure's is "not found" (404)."""
    return scheduling_queries.get_workshop_for(db.session, g.user, workshop_id, with_team=False) \
        or abort(404)


def _handover(handover_id):
    return queries.get_handover_for(db.session, g.user, handover_id) or abort(404)


def _equipment(equipment_id):
    return queries.get_equipment_for(db.session, g.user, equipment_id) or abort(404)


def _run(service, *args, **kwargs):
    """Call a service; outside the user's scope is "not found", with nothing written."""
    try:
        return service(db.session, *args, **kwargs)
    except NotAllowed:
        db.session.rollback()
        abort(404)


def _refused(error: ValidationFailed, target: str):
    db.session.rollback()
    for _field, message in error.reasons:
        flash(str(message), "error")
    return redirect(target)


def _back(value: str | None, default: str) -> str:
    return value if is_safe_redirect(value) else default


# ---------- The atelier's handover screen ----------

def _family_label(family: queries.AtelierFamily) -> str:
    parts = [family.name or _("(no name)")]
    if family.is_present:
        parts.append(_("present"))
    if family.computer_wanted:
        kind = inventory_forms.KIND_LABELS.get(family.computer_wanted, family.computer_wanted)
        parts.append(_("asked for: %(kind)s", kind=kind))
    return " · ".join(parts)


def _handover_form(families: list[queries.AtelierFamily], today: date) -> forms.HandoverForm:
    form = forms.HandoverForm()
    form.family_id.choices = choices([("", _("Choose the family")),
                                      *((str(f.family_id), _family_label(f)) for f in families)])
    if request.method == "GET":
        form.due_on.data = services.default_due_date(today)
    return form


def _check(form: forms.HandoverForm, today: date) -> Preview | None:
    """The machine, family and terms the form designates; None with the problems on the
    form when it cannot be handed over as asked. Reads only."""
    if not form.validate():
        return None
    family = family_queries.get_family_for(db.session, g.user, parse_uuid(form.family_id.data))
    if family is None:
        form.family_id.errors = [_("Choose the family.")]
        return None
    item = queries.find_tag_for(db.session, g.user, form.asset_tag.data)
    if item is None:
        form.asset_tag.errors = [_(
            "No machine has the asset tag %(tag)s. Check the number, or scan it again.",
            tag=services.clean_tag(form.asset_tag.data))]
        return None
    if item.status in forms.UNAVAILABLE:
        form.asset_tag.errors = [_("%(state)s It cannot be handed over now.",
                                   state=forms.UNAVAILABLE[item.status])]
        return None
    if item.status == "reserved" and not equipment_queries.is_reserved_for(db.session, item, family):
        form.asset_tag.errors = [_("This machine is reserved for another family. Cancel that reservation "
                                   "first, or choose another machine.")]
        return None
    due_on = None
    if form.mode.data == "loan":
        due_on = form.due_on.data or services.default_due_date(today)
        if due_on <= today:
            form.due_on.errors = [_("The return date must be after today.")]
            return None
    terms = terms_for(form.mode.data, queries.family_language(family))
    return Preview(item=item, family=family, family_name=queries.family_name(family), mode=form.mode.data,
                   due_on=due_on, terms=terms)


@bp.route("/ateliers/<uuid:workshop_id>/remises", methods=["GET", "POST"])
def workshop_handovers(workshop_id):
    workshop = _workshop(workshop_id)
    today = queries.paris_today()
    families = queries.list_atelier_families(db.session, workshop)
    form = _handover_form(families, today)
    preview, status = None, 200
    if request.method == "POST":
        if workshop.status == "cancelled":
            abort(409)
        preview = _check(form, today)
        status = 200 if preview else 422
        confirmed = request.form.get("step") == "confirm"
        if preview and confirmed and form.shown_sha256.data == preview.terms.sha256:
            try:
                handover = _run(services.hand_over, preview.item, preview.family, g.user, mode=preview.mode,
                                workshop=workshop, due_on=preview.due_on, language=preview.terms.language,
                                notes=form.notes.data or "")
            except ValidationFailed as error:
                db.session.rollback()
                apply_reasons(form, error)
                preview, status = None, 409
            else:
                db.session.commit()
                flash(_("Machine %(tag)s handed over to %(name)s.", tag=preview.item.asset_tag,
                        name=queries.family_name(preview.family)), "success")
                return redirect(url_for(".handover", handover_id=handover.id))
        if preview:
            form.shown_sha256.data = preview.terms.sha256
            form.due_on.data = preview.due_on or form.due_on.data
    return render_template(
        "equipment/handovers.html", workshop=workshop, form=form, preview=preview,
        has_families=bool(families),
        handovers=queries.list_workshop_handovers(db.session, workshop),
        atelier_url=url_for("scheduling.workshop", workshop_id=workshop.id), **_labels()), status


# ---------- One handover: terms, history, void ----------

def _handover_page(handover, *, void_form=None, status=200):
    return render_template(
        "equipment/handover.html", handover=handover, item=handover.equipment,
        family_name=queries.family_name(merge_queries.kept_household(db.session, handover.family)),
        state=queries.handover_state(db.session, handover),
        events=queries.handover_events(db.session, handover),
        void_form=void_form or forms.VoidForm(formdata=None),
        return_form=forms.ReturnForm(formdata=None), renew_form=forms.RenewForm(formdata=None),
        **_labels()), status


@bp.route("/remises/<uuid:handover_id>")
def handover(handover_id):
    return _handover_page(_handover(handover_id))


@bp.route("/remises/<uuid:handover_id>/annuler", methods=["POST"])
def void(handover_id):
    handover = _handover(handover_id)
    form = forms.VoidForm()
    if form.validate_on_submit():
        try:
            _run(services.void_handover, handover, g.user, form.reason.data or "")
        except ValidationFailed as error:
            db.session.rollback()
            apply_reasons(form, error)
        else:
            db.session.commit()
            flash(_("The handover was cancelled; machine %(tag)s is available again.",
                    tag=handover.equipment.asset_tag), "success")
            return redirect(url_for(".handover", handover_id=handover.id))
    return _handover_page(handover, void_form=form, status=422)


# ---------- Returns, renewals, loans ----------

@bp.route("/materiel/<uuid:equipment_id>/retour", methods=["POST"])
def record_return(equipment_id):
    item = _equipment(equipment_id)
    form = forms.ReturnForm()
    default = url_for(".handover", handover_id=item.current_handover_id) if item.current_handover_id \
        else url_for(".loans")
    back = _back(request.form.get("next"), default)
    if not form.validate_on_submit():
        flash(_("The remark is too long."), "error")
        return redirect(back)
    try:
        _run(services.record_return, item, g.user, reason=form.remark.data or "")
    except ValidationFailed as error:
        return _refused(error, back)
    db.session.commit()
    flash(_("Machine %(tag)s was returned.", tag=item.asset_tag), "success")
    return redirect(back)


@bp.route("/materiel/<uuid:equipment_id>/renouveler", methods=["POST"])
def renew(equipment_id):
    item = _equipment(equipment_id)
    form = forms.RenewForm()
    default = url_for(".handover", handover_id=item.current_handover_id) if item.current_handover_id \
        else url_for(".loans")
    back = _back(request.form.get("next"), default)
    if not form.validate_on_submit():
        flash(_("Enter a valid date, or leave it empty for one more year."), "error")
        return redirect(back)
    try:
        _run(services.renew_loan, item, g.user, due_on=form.due_on.data)
    except ValidationFailed as error:
        return _refused(error, back)
    db.session.commit()
    flash(_("The loan of machine %(tag)s was renewed.", tag=item.asset_tag), "success")
    return redirect(back)


@bp.route("/materiel/prets")
def loans():
    return render_template("equipment/loans.html", loans=queries.list_loans(db.session, g.user),
                           action_form=forms.ReturnForm(formdata=None), **_labels())


# ---------- The panel of the atelier page ----------

@register_panel
def handovers_panel(workshop, user) -> Panel | None:
    """Machines given and lent at this atelier, and the way to the handover screen."""
    return Panel("equipment/_atelier_panel.html", {
        "counts": queries.panel_counts(db.session, workshop),
        "is_prominent": workshop.kind in HANDOVER_KINDS,
    }, order=50)
