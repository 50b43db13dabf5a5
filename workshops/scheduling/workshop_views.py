"""The atelier page (the centre of the day) and what is done to an atelier: create,
edit, duplicate, plan a series, cancel, close, reopen, record what was presented.

Routes are declared here and added to the scheduling blueprint by views.py,
so endpoints are `scheduling.<function name>`. An atelier outside the user's
scope is "not found" (404), whatever the method.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

from workshops.auth import queries as auth_queries
from workshops.core.errors import NotAllowed, ValidationFailed
from workshops.core.forms import apply_reasons, choices, parse_uuid
from workshops.core.models import utcnow
from workshops.core.taxonomy import LEVELS, THEMATIQUES
from workshops.extensions import db
from workshops.resources import queries as resource_queries
from workshops.scheduling import forms, queries
from workshops.scheduling import workshop_services as services
from workshops.scheduling.localtime import parse_day
from workshops.scheduling.models import Workshop
from workshops.scheduling.panels import panels_for

# (rule, view, options) of every route of this module, registered by views.py.
ROUTES: list[tuple[str, Callable, dict[str, Any]]] = []


def route(rule: str, **options: Any) -> Callable[[Callable], Callable]:
    """Declare a route of the scheduling blueprint (see views.py)."""

    def decorator(view: Callable) -> Callable:
        ROUTES.append((rule, view, options))
        return view

    return decorator


def _workshop_or_404(workshop_id: uuid.UUID) -> Workshop:
    return queries.get_workshop_for(db.session, g.user, workshop_id) or abort(404)


def _to_page(workshop: Workshop, anchor: str | None = None):
    return redirect(url_for("scheduling.workshop", workshop_id=workshop.id, _anchor=anchor))


def _save(form, action: Callable[[], Any]) -> Any:
    """Run a service and commit; a refusal goes back on the form (None returned)."""
    try:
        result = action()
    except ValidationFailed as error:
        db.session.rollback()
        apply_reasons(form, error)
        return None
    except NotAllowed:
        db.session.rollback()
        abort(403)
    db.session.commit()
    return result


def _act(action: Callable[[], Any]) -> bool:
    """Run a service from a button and commit; a refusal is flashed. True when done."""
    try:
        action()
    except ValidationFailed as error:
        db.session.rollback()
        for _field, message in error.reasons:
            flash(str(message), "error")
        return False
    except NotAllowed:
        db.session.rollback()
        abort(403)
    db.session.commit()
    return True


@route("/ateliers/<uuid:workshop_id>")
def workshop(workshop_id):
    """The atelier page: what, when, where, who, what is shown, the actions and the panels."""
    current = _workshop_or_404(workshop_id)
    presented = queries.resources_of(current, presented=True)
    form = forms.PresentedForm(data={"resource_ids": [str(r.id) for r in presented]})
    form.resource_ids.choices = _resource_choices(current)
    return render_template(
        "scheduling/workshop.html", workshop=current, presented_form=form,
        animators=queries.animators_of(current), planned=queries.resources_of(current),
        presented=presented, panels=panels_for(current, g.user), action_form=forms.ActionForm(),
        has_started=current.start_dt <= utcnow(), kind_labels=forms.WORKSHOP_KIND_LABELS,
        status_labels=forms.WORKSHOP_STATUS_LABELS, thematique_labels=THEMATIQUES,
        level_labels=LEVELS, locale=str(get_locale()), language_label=forms.language_label)


@route("/ateliers/new", methods=["GET", "POST"])
def workshop_new():
    form = forms.WorkshopForm()
    _prepare_new(form)
    if form.validate_on_submit():
        created = _save(form, lambda: services.save_workshop(db.session, _data(form), g.user))
        if created is not None:
            flash(_("The atelier was created."), "success")
            return _to_page(created)
    return render_template("scheduling/workshop_form.html", form=form, workshop=None, mode="new")


@route("/ateliers/series/new", methods=["GET", "POST"])
def workshop_series():
    form = forms.SeriesForm()
    _prepare_new(form)
    if form.validate_on_submit():
        created = _save(form, lambda: services.create_series(
            db.session, _data(form), g.user, every_days=form.every_days.data, count=form.count.data))
        if created is not None:
            flash(ngettext("%(num)d atelier was planned.", "%(num)d ateliers were planned.",
                           len(created)), "success")
            return redirect(url_for("scheduling.workshops"))
    return render_template("scheduling/workshop_form.html", form=form, workshop=None, mode="series")


@route("/ateliers/<uuid:workshop_id>/edit", methods=["GET", "POST"])
def workshop_edit(workshop_id):
    current = _workshop_or_404(workshop_id)
    if current.status == "cancelled":
        flash(_("This atelier is cancelled: reopen it before changing anything."), "error")
        return _to_page(current)
    form = forms.WorkshopForm(data=_form_data(services.workshop_data_of(current)))
    _fill_choices(form, current)
    if form.validate_on_submit():
        saved = _save(form, lambda: services.save_workshop(db.session, _data(form), g.user, current))
        if saved is not None:
            flash(_("The atelier was saved."), "success")
            return _to_page(saved)
    return render_template("scheduling/workshop_form.html", form=form, workshop=current, mode="edit")


@route("/ateliers/<uuid:workshop_id>/duplicate", methods=["GET", "POST"])
def workshop_duplicate(workshop_id):
    current = _workshop_or_404(workshop_id)
    form = forms.DuplicateForm()
    if form.validate_on_submit():
        created = _save(form, lambda: services.duplicate_workshop(
            db.session, current, form.day.data, g.user))
        if created is not None:
            flash(_("The atelier was duplicated. Check it, then invite the families."), "success")
            return _to_page(created)
    return render_template("scheduling/duplicate.html", form=form, workshop=current)


@route("/ateliers/<uuid:workshop_id>/cancel", methods=["GET", "POST"])
def workshop_cancel(workshop_id):
    current = _workshop_or_404(workshop_id)
    form = forms.CancelForm()
    if form.validate_on_submit() and _save(form, lambda: services.cancel_workshop(
            db.session, current, form.reason.data, g.user)) is not None:
        flash(_("The atelier was cancelled."), "success")
        return _to_page(current)
    return render_template("scheduling/cancel.html", form=form, workshop=current)


@route("/ateliers/<uuid:workshop_id>/close", methods=["POST"])
def workshop_close(workshop_id):
    current = _workshop_or_404(workshop_id)
    if _act(lambda: services.close_workshop(db.session, current, g.user)):
        flash(_("The atelier is closed: it counts as held."), "success")
    return _to_page(current)


@route("/ateliers/<uuid:workshop_id>/reopen", methods=["POST"])
def workshop_reopen(workshop_id):
    current = _workshop_or_404(workshop_id)
    if _act(lambda: services.reopen_workshop(db.session, current, g.user)):
        flash(_("The atelier is planned again."), "success")
    return _to_page(current)


@route("/ateliers/<uuid:workshop_id>/presented", methods=["POST"])
def workshop_presented(workshop_id):
    current = _workshop_or_404(workshop_id)
    form = forms.PresentedForm()
    form.resource_ids.choices = _resource_choices(current)
    if not form.validate_on_submit():
        flash(_("Tick the resources among those listed."), "error")
    elif _act(lambda: services.mark_presented(db.session, current, _uuids(form.resource_ids.data),
                                              g.user)):
        flash(_("What was presented is saved."), "success")
    return _to_page(current, "presented")


def _prepare_new(form: forms.WorkshopForm) -> None:
    """Choices, and on first display: the user's structure, the user as animator,
    the day asked for (?day=, from the week view)."""
    _fill_choices(form, None)
    if request.method != "GET":
        return
    form.structure_id.data = str(g.user.structure_id or "")
    form.animator_ids.data = [str(g.user.id)]
    form.day.data = parse_day(request.args.get("day"))


def _fill_choices(form: forms.WorkshopForm, current: Workshop | None) -> None:
    """Options offered: active venues, structures in scope, active accounts and
    resources; what the atelier already has stays offered even if no longer active."""
    venues = queries.list_venues(db.session, active_only=True)
    if current is not None and current.venue not in venues:
        venues.append(current.venue)
    form.venue_id.choices = choices([("", _("— choose —"))] + [
        (str(v.id), f"{v.name}, {v.commune}") for v in venues])
    structures = [s for s in auth_queries.list_structures(db.session, active_only=True)
                  if queries.can_manage(g.user, s.id)]
    if current is not None and current.structure not in structures:
        structures.append(current.structure)
    form.structure_id.choices = choices([("", _("— choose —"))] + [
        (str(s.id), s.name) for s in structures])
    form.languages.choices = forms.language_choices(str(get_locale()))
    form.animator_ids.choices = choices(
        (str(u.id), u.display_name) for u in queries.list_animator_candidates(db.session, current))
    form.resource_ids.choices = _resource_choices(current)


def _resource_choices(current: Workshop | None):
    """The active resources, those of the atelier first (planned, then presented)."""
    resources = resource_queries.list_resources(db.session, active_only=True)
    if current is not None:
        mine = queries.resources_of(current)
        mine += [r for r in queries.resources_of(current, presented=True) if r not in mine]
        resources = mine + [r for r in resources if r not in mine]
    return choices((str(r.id), r.name) for r in resources)


def _uuids(values) -> tuple[uuid.UUID, ...]:
    return tuple(value for value in map(parse_uuid, values or ()) if value is not None)


def _data(form: forms.WorkshopForm) -> services.WorkshopData:
    return services.WorkshopData(
        title=form.title.data or "", day=form.day.data, start_time=form.start_time.data,
        end_time=form.end_time.data, venue_id=parse_uuid(form.venue_id.data),
        structure_id=parse_uuid(form.structure_id.data), kind=form.kind.data,
        capacity=form.capacity.data, thematiques=tuple(form.thematiques.data or ()),
        level=form.level.data or None, languages=tuple(form.languages.data or ()),
        animator_ids=_uuids(form.animator_ids.data), resource_ids=_uuids(form.resource_ids.data),
        notes=form.notes.data or "")


def _form_data(data: services.WorkshopData) -> dict[str, Any]:
    values = dict(vars(data))
    values["venue_id"], values["structure_id"] = str(data.venue_id), str(data.structure_id)
    values["level"] = data.level or ""
    values["animator_ids"] = [str(uid) for uid in data.animator_ids]
    values["resource_ids"] = [str(rid) for rid in data.resource_ids]
    values["thematiques"], values["languages"] = list(data.thematiques), list(data.languages)
    return values
