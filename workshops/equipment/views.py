"""The inventory: list with filters and counters, add and edit a machine, its page with its
history and the actions of its life (reserve, restock, faulty, recycled), the stock page,
and the equipment panel of the family page."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from workshops.auth.queries import list_structures
from workshops.core.errors import NotAllowed, ValidationFailed
from workshops.core.forms import apply_reasons, choices, parse_uuid
from workshops.core.models import utcnow
from workshops.equipment import forms, queries, services
from workshops.equipment.models import EQUIPMENT_STATUSES, Equipment  # also makes the tables known
from workshops.extensions import db
from workshops.families.family_panels import register_family_panel
from workshops.families.merge_queries import kept_household
from workshops.families.queries import get_family_for, live_guardians
from workshops.scheduling.localtime import local_today
from workshops.scheduling.panels import Panel

bp = Blueprint("equipment", __name__)


def _today():
    return local_today(utcnow())


@bp.route("/materiel")
def index():
    form = forms.FilterForm(request.args)
    origins = queries.list_origins(db.session, g.user)
    form.origin.choices = choices([("", _("Any origin")), *((o, o) for o in origins)])
    filters = queries.EquipmentFilters(**{name: (getattr(form, name).data or "").strip()
                                          for name in ("status", "kind", "grade", "origin")})
    page = request.args.get("page", 1, type=int) or 1
    filter_args = {name: value for name, value in vars(filters).items() if value}
    base_args = {name: value for name, value in filter_args.items() if name != "status"}
    return render_template(
        "equipment/index.html", form=form, filters=filters, is_filtered=bool(filter_args),
        filter_args=filter_args, base_args=base_args,
        listing=queries.list_equipment(db.session, g.user, filters, _today(), page),
        counts=queries.count_by_status(db.session, g.user, filters, _today()),
        statuses=EQUIPMENT_STATUSES, overdue=queries.OVERDUE, today=_today(), **_labels())


@bp.route("/materiel/stock")
def stock():
    summary = queries.stock_summary(db.session, g.user, _today())
    return render_template("equipment/stock.html", summary=summary,
                           statuses=EQUIPMENT_STATUSES, overdue=queries.OVERDUE, **_labels())


@bp.route("/materiel/new", methods=["GET", "POST"])
def new():
    form = _equipment_form()
    if form.validate_on_submit():
        saved = _save(form, lambda: services.add_equipment(db.session, _equipment_data(form), g.user))
        if saved is not None:
            flash(_("The machine %(tag)s was added to the stock.", tag=saved.asset_tag), "success")
            return redirect(url_for(".item", equipment_id=saved.id))
    elif form.is_submitted():
        _add_service_problems(form)
    return render_template("equipment/form.html", form=form, item=None)


@bp.route("/materiel/<uuid:equipment_id>/modifier", methods=["GET", "POST"])
def edit(equipment_id):
    machine = _item_or_404(equipment_id)
    form = _equipment_form(machine)
    if form.validate_on_submit():
        data = _equipment_data(form)
        changed = _save(form, lambda: services.update_equipment(db.session, machine, data, g.user))
        if changed is not None:
            flash(_("The machine was saved.") if changed else _("Nothing was changed."), "success")
            return redirect(url_for(".item", equipment_id=machine.id))
    elif form.is_submitted():
        _add_service_problems(form, machine)
    return render_template("equipment/form.html", form=form, item=machine)


@bp.route("/materiel/<uuid:equipment_id>")
def item(equipment_id):
    machine = _item_or_404(equipment_id)
    reserve_form = forms.ReserveForm()
    families = queries.list_families_to_reserve(db.session, g.user, machine) \
        if machine.status == "in_stock" else []
    reserve_form.family_id.choices = choices(
        [("", _("Choose a family"))]
        + [(str(f.id), _family_choice(f, machine.kind)) for f in families])
    return render_template(
        "equipment/item.html", item=machine, history=queries.list_history(db.session, machine),
        reserve_form=reserve_form, has_families=bool(families), action_form=forms.ActionForm(),
        faulty_form=forms.ReasonForm(prefix="faulty"), recycle_form=forms.ReasonForm(prefix="recycle"),
        today=_today(), **_labels())


@bp.route("/materiel/<uuid:equipment_id>/reserver", methods=["POST"])
def reserve(equipment_id):
    form = forms.ReserveForm()
    machine = _item_or_404(equipment_id)
    family_id = parse_uuid(form.family_id.data)
    family = get_family_for(db.session, g.user, family_id) if family_id else None
    back = request.form.get("back") == "family" and family is not None
    target = url_for("families.family", family_id=family.id) if back else None
    if family_id is not None and family is None:
        abort(404)
    if not form.validate_on_submit() or family is None:
        flash(_("Choose the family to reserve this machine for."), "error")
        return redirect(target or url_for(".item", equipment_id=machine.id))
    return _act(machine, lambda m: services.reserve(
        db.session, m, family, g.user, allow_other_kind=form.allow_other_kind.data),
        _("The machine %(tag)s is reserved for this family.", tag=machine.asset_tag), target=target)


@bp.route("/materiel/<uuid:equipment_id>/annuler-reservation", methods=["POST"])
def unreserve(equipment_id):
    return _post_action(equipment_id, forms.ActionForm(), services.cancel_reservation,
                        _("The reservation was cancelled: the machine is back in stock."))


@bp.route("/materiel/<uuid:equipment_id>/remettre-en-stock", methods=["POST"])
def restock(equipment_id):
    return _post_action(equipment_id, forms.ActionForm(), services.restock,
                        _("The machine is back in stock."))


@bp.route("/materiel/<uuid:equipment_id>/en-panne", methods=["POST"])
def faulty(equipment_id):
    form = forms.ReasonForm(prefix="faulty")
    return _post_action(equipment_id, form,
                        lambda s, m, u: services.mark_faulty(s, m, u, form.reason.data or ""),
                        _("The machine is marked faulty."))


@bp.route("/materiel/<uuid:equipment_id>/recycler", methods=["POST"])
def recycle(equipment_id):
    form = forms.ReasonForm(prefix="recycle")
    return _post_action(equipment_id, form,
                        lambda s, m, u: services.recycle(s, m, u, reason=form.reason.data or ""),
                        _("The machine is recorded as sent to recycling."))


def _post_action(equipment_id, form, service: Callable, success: str):
    machine = _item_or_404(equipment_id)
    if not form.validate_on_submit():
        flash(_("The form expired or was incomplete: nothing was changed. Try again."), "error")
        return redirect(url_for(".item", equipment_id=machine.id))
    return _act(machine, lambda m: service(db.session, m, g.user), success)


def _act(machine: Equipment, write: Callable, success: str, target: str | None = None):
    """Run one action of the machine's life and commit; a refusal is flashed, nothing changed."""
    try:
        write(machine)
    except ValidationFailed as error:
        db.session.rollback()
        for _field, message in error.reasons:
            flash(message, "error")
    except NotAllowed:
        db.session.rollback()
        abort(404)
    else:
        db.session.commit()
        flash(success, "success")
    return redirect(target or url_for(".item", equipment_id=machine.id))


def _item_or_404(equipment_id) -> Equipment:
    machine = queries.get_equipment_for(db.session, g.user, equipment_id)
    if machine is None:
        abort(404)
    return machine


def _save(form: forms.EquipmentForm, write):
    """Run a service write and commit; on a refusal put the reasons on the form."""
    try:
        saved = write()
    except ValidationFailed as error:
        db.session.rollback()
        apply_reasons(form, error)
        return None
    except NotAllowed:
        db.session.rollback()
        form.structure_id.errors = [*form.structure_id.errors,
                                    _("You may only hold machines for your own structure.")]
        return None
    db.session.commit()
    return saved


def _equipment_form(machine: Equipment | None = None) -> forms.EquipmentForm:
    """The form with its structure choices, filled from the machine on a first display."""
    data = None
    if machine is not None and request.method == "GET":
        data = {name: getattr(machine, name) for name in services.DESCRIPTION_FIELDS}
        data.update(structure_id=str(machine.structure_id), grade=machine.grade or "")
    form = forms.EquipmentForm(data=data)
    form.structure_id.choices = choices([("", _("Choose a structure")), *(
        (str(s.id), s.name) for s in list_structures(db.session, active_only=True))])
    if request.method == "GET" and machine is None and g.user.structure_id:
        form.structure_id.data = str(g.user.structure_id)
    return form


def _add_service_problems(form: forms.EquipmentForm, machine=None) -> None:
    """When a field check failed, the service's own rules (asset tag missing or taken, no
    structure...) are said in the same round, on the fields without a message yet."""
    for name, message in services.equipment_problems(db.session, _equipment_data(form), machine):
        field = getattr(form, name, None) if name else None
        if field is not None and not field.errors:
            field.errors = [*field.errors, message]


def _equipment_data(form: forms.EquipmentForm) -> services.EquipmentData:
    text = {name: (getattr(form, name).data or "").strip() for name in (
        "asset_tag", "serial", "brand", "model", "cpu", "storage", "operating_system", "accessories",
        "origin", "refurbisher", "notes")}
    return services.EquipmentData(
        structure_id=parse_uuid(form.structure_id.data), kind=form.kind.data, ram_gb=form.ram_gb.data,
        refurbished_on=form.refurbished_on.data, grade=form.grade.data or None, **text)


def _family_choice(family, kind: str) -> str:
    names = ", ".join(f"{p.first_name} {p.last_name}" for p in live_guardians(family)) or "—"
    if family.computer_wanted == kind:
        return names
    return _("%(names)s (asked for: %(kind)s)", names=names,
             kind=forms.KIND_LABELS.get(family.computer_wanted, family.computer_wanted))


def _labels() -> dict:
    return {"kind_labels": forms.KIND_LABELS, "grade_labels": forms.GRADE_LABELS,
            "status_labels": forms.STATUS_LABELS, "status_badges": forms.STATUS_BADGES,
            "event_labels": forms.EVENT_LABELS, "received_labels": forms.RECEIVED_LABELS,
            "live_guardians": live_guardians,
            "kept_household": lambda family: kept_household(db.session, family)}


# ---------- The panel of the family page ----------

@register_family_panel
def equipment_panel(family, user) -> Panel | None:
    """What the family received, what is reserved for it, and machines of the kind it asked for."""
    today = _today()
    return Panel("equipment/_family_panel.html", {
        "received": queries.list_received(db.session, family.id, today),
        "reserved": queries.list_reserved_for(db.session, family.id),
        "matching": queries.list_machines_for(db.session, user, family),
        "reserve_form": forms.ReserveForm(), **_labels()}, order=50)
