"""An atelier's families: check-in at the door (search, one tap, undo, walk-ins), the list of
registrations, anonymous headcount, re-entry of the paper sheet, what was shown to each
family, and the panel of the atelier page."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from workshops.core.errors import NotAllowed, ValidationFailed
from workshops.core.forms import apply_reasons, choices, parse_uuid
from workshops.core.taxonomy import AGE_BRACKETS, SOCIAL_STATUSES
from workshops.extensions import db
from workshops.families import attendance_services, normalize
from workshops.families import queries as family_queries
from workshops.families import registration_forms as forms
from workshops.families import registration_queries as queries
from workshops.families import registration_services as services
from workshops.resources import queries as resource_queries
from workshops.scheduling import queries as scheduling_queries
from workshops.scheduling.panels import Panel, register_panel

bp = Blueprint("attendance", __name__)

# The last thing done at the door, shown with its undo button until the next one.
LAST_ACTION = "attendance_last"
PREFIX = "/ateliers/<uuid:workshop_id>"


def _workshop(workshop_id):
    """The atelier in the user's scope; another structure's is "not found" (404)."""
    return scheduling_queries.get_workshop_for(db.session, g.user, workshop_id, with_team=False) \
        or abort(404)


def _family(value):
    family_id = parse_uuid(value)
    family = family_queries.get_family_for(db.session, g.user, family_id) if family_id else None
    return family or abort(404)


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


def _common(workshop) -> dict:
    return {"workshop": workshop, "atelier_url": url_for("scheduling.workshop", workshop_id=workshop.id),
            "status_labels": forms.STATUS_LABELS, "badges": forms.STATUS_BADGES}


# ---------- Check-in at the door ----------

def _remember(workshop, registration, outcome: str, previous: str | None = None) -> None:
    session[LAST_ACTION] = {"workshop": str(workshop.id), "registration": str(registration.id),
                            "outcome": outcome, "previous": previous or ""}


def _last_action(workshop):
    last = session.get(LAST_ACTION) or {}
    if last.get("workshop") != str(workshop.id):
        return None
    registration = queries.get_registration(db.session, workshop, parse_uuid(last.get("registration")),
                                            include_removed=True)
    if registration is None:
        return None
    can_undo = last["outcome"] in ("checked_in", "walk_in") and registration.status == "attended" \
        and registration.deleted_dt is None
    return {"outcome": last["outcome"], "registration": registration, "previous": last["previous"],
            "can_undo": can_undo, "name": _display_name(registration.family)}


def _display_name(family) -> str:
    guardians = family_queries.live_guardians(family)
    return " ".join(part for part in (guardians[0].first_name, guardians[0].last_name) if part) \
        if guardians else ""


def _checkin_page(workshop, *, walk_in=None, duplicates=None, status=200):
    search = forms.SearchForm(request.args)
    text = (search.q.data or "").strip()
    hits = queries.checkin_search(db.session, workshop, g.user, text) if text else []
    return render_template(
        "attendance/checkin.html", search=search, query=text, hits=hits,
        counters=queries.counters(db.session, workshop),
        roster=queries.sheet_order_roster(db.session, workshop), last=_last_action(workshop),
        walk_in=walk_in or forms.WalkInForm(formdata=None), duplicates=duplicates,
        **_common(workshop)), status


@bp.route(f"{PREFIX}/checkin")
def checkin(workshop_id):
    return _checkin_page(_workshop(workshop_id))


@bp.route(f"{PREFIX}/checkin/results")
def checkin_results(workshop_id):
    """Just the list of results, for checkin.js to put under the search field."""
    workshop = _workshop(workshop_id)
    text = (request.args.get("q") or "").strip()[:100]
    hits = queries.checkin_search(db.session, workshop, g.user, text) if text else []
    return render_template("attendance/_results.html", hits=hits, query=text, **_common(workshop))


@bp.route(f"{PREFIX}/checkin/family", methods=["POST"])
def check_in(workshop_id):
    workshop = _workshop(workshop_id)
    back = url_for(".checkin", workshop_id=workshop.id)
    form = forms.CheckInForm()
    if not form.validate_on_submit():
        flash(_("Enter numbers from 0 to %(max)s.", max=services.MAX_PEOPLE), "error")
        return redirect(back)
    family = _family(form.family_id.data)
    try:
        done = _run(services.check_in_family, workshop, family, g.user,
                    adults=form.adults.data, children=form.children.data)
    except ValidationFailed as error:
        return _refused(error, back)
    db.session.commit()
    corrected = form.adults.data is not None or form.children.data is not None
    outcome = "checked_in" if not done.was_present else ("counts" if corrected else "already")
    if outcome == "checked_in":
        _remember(workshop, done.registration, outcome, done.previous_status)
    else:
        _remember(workshop, done.registration, outcome)
    return redirect(back)


@bp.route(f"{PREFIX}/checkin/undo", methods=["POST"])
def undo(workshop_id):
    workshop = _workshop(workshop_id)
    back = url_for(".checkin", workshop_id=workshop.id)
    form = forms.UndoForm()
    registration_id = parse_uuid(form.registration_id.data) if form.validate_on_submit() else None
    registration = queries.get_registration(db.session, workshop, registration_id) or abort(404)
    try:
        _run(services.undo_check_in, registration, g.user, previous_status=form.previous.data or None)
    except ValidationFailed as error:
        return _refused(error, back)
    db.session.commit()
    _remember(workshop, registration, "undone")
    return redirect(back)


@bp.route(f"{PREFIX}/checkin/walk-in", methods=["POST"])
def walk_in(workshop_id):
    workshop = _workshop(workshop_id)
    form = forms.WalkInForm()
    if not form.validate_on_submit():
        return _checkin_page(workshop, walk_in=form, status=422)
    try:
        registration = _run(
            services.add_walk_in, workshop, g.user, last_name=form.last_name.data,
            first_name=form.first_name.data or "", phone=form.phone.data or "",
            notice_given=form.notice_given.data, has_follow_up_consent=form.has_follow_up_consent.data,
            adults=_number(form.adults.data, 1), children=_number(form.children.data, 0),
            force=form.force.data == "1")
    except services.PossibleDuplicates as found:
        db.session.rollback()
        form.force.data = "1"
        return _checkin_page(workshop, walk_in=form, duplicates=found.candidates)
    except ValidationFailed as error:
        db.session.rollback()
        apply_reasons(form, error)
        return _checkin_page(workshop, walk_in=form, status=422)
    db.session.commit()
    _remember(workshop, registration, "walk_in")
    return redirect(url_for(".checkin", workshop_id=workshop.id))


def _number(value, default: int) -> int:
    return default if value is None else value


# ---------- Registrations ----------

@bp.route(f"{PREFIX}/registrations")
def registrations(workshop_id, *, overbook_family=None, status=200):
    workshop = _workshop(workshop_id)
    search = forms.SearchForm(request.args)
    text = (search.q.data or "").strip()
    return render_template(
        "attendance/registrations.html", search=search, query=text,
        hits=queries.checkin_search(db.session, workshop, g.user, text, limit=20) if text else [],
        roster=queries.sheet_order_roster(db.session, workshop),
        counters=queries.counters(db.session, workshop), overbook_family=overbook_family,
        **_common(workshop)), status


@bp.route(f"{PREFIX}/registrations/add", methods=["POST"])
def register(workshop_id):
    workshop = _workshop(workshop_id)
    back = url_for(".registrations", workshop_id=workshop.id, q=request.args.get("q") or None)
    form = forms.RegisterForm()
    if not form.validate_on_submit():
        abort(400)
    family = _family(form.family_id.data)
    try:
        _run(services.register_family, workshop, family, g.user, status=form.status.data,
             allow_overbooking=form.allow_overbooking.data == "1")
    except services.CapacityReached:
        db.session.rollback()
        return registrations(workshop_id, overbook_family=family, status=409)
    except ValidationFailed as error:
        return _refused(error, back)
    db.session.commit()
    flash(_("%(name)s is on the list.", name=_display_name(family)), "success")
    return redirect(back)


@bp.route(f"{PREFIX}/registrations/status", methods=["POST"])
def set_status(workshop_id):
    workshop = _workshop(workshop_id)
    back = url_for(".registrations", workshop_id=workshop.id)
    form = forms.StatusForm()
    registration_id = parse_uuid(form.registration_id.data) if form.validate_on_submit() else None
    registration = queries.get_registration(db.session, workshop, registration_id) or abort(404)
    try:
        _run(services.set_status, registration, form.status.data, g.user,
             allow_overbooking=form.allow_overbooking.data == "1")
    except ValidationFailed as error:
        return _refused(error, back)
    db.session.commit()
    flash(_("The status of %(name)s was changed.", name=_display_name(registration.family)), "success")
    return redirect(back)


# ---------- Anonymous headcount ----------

@bp.route(f"{PREFIX}/headcount", methods=["GET", "POST"])
def headcount(workshop_id):
    workshop = _workshop(workshop_id)
    grid = queries.headcount_grid(db.session, workshop)
    form = forms.HeadcountForm(data={forms.headcount_field_name(*key): count for key, count in grid.items()})
    if form.validate_on_submit():
        try:
            _run(attendance_services.set_headcounts, workshop, forms.headcount_counts(form), g.user)
        except ValidationFailed as error:
            db.session.rollback()
            apply_reasons(form, error)
        else:
            db.session.commit()
            flash(_("The headcount was saved."), "success")
            return redirect(url_for(".headcount", workshop_id=workshop.id))
    return render_template("attendance/headcount.html", form=form, brackets=AGE_BRACKETS,
                           statuses=SOCIAL_STATUSES, field_name=forms.headcount_field_name,
                           total=sum(grid.values()), **_common(workshop))


@bp.route(f"{PREFIX}/headcount/add", methods=["POST"])
def headcount_add(workshop_id):
    """One more (or one less) person who gives no name, from the check-in screen."""
    workshop = _workshop(workshop_id)
    back = url_for(".checkin", workshop_id=workshop.id)
    delta = -1 if request.form.get("delta") == "-1" else 1
    try:
        _run(attendance_services.adjust_headcount, workshop, delta, g.user)
    except ValidationFailed as error:
        return _refused(error, back)
    db.session.commit()
    return redirect(back)


# ---------- Re-entry of the paper sheet ----------

@bp.route(f"{PREFIX}/sheet", methods=["GET", "POST"])
def sheet(workshop_id):
    workshop = _workshop(workshop_id)
    roster = queries.sheet_order_roster(db.session, workshop)
    form = forms.SheetForm(data={"marks": [_mark_data(row) for row in roster]})
    if form.validate_on_submit():
        rows, mark_entries, walk_in_entries = form.rows()
        try:
            _run(attendance_services.reenter_sheet, workshop, rows, g.user)
        except services.PossibleDuplicates as found:
            db.session.rollback()
            for index, candidates in found.by_row.items():
                walk_in_entries[index].form.family_choice.choices = _candidate_choices(candidates)
            flash(_("Some people written by hand may be known already: choose for each, then save again."),
                  "warning")
        except ValidationFailed as error:
            db.session.rollback()
            forms.apply_sheet_reasons(form, error, mark_entries, walk_in_entries)
        else:
            db.session.commit()
            flash(_("The sheet was recorded."), "success")
            return redirect(url_for(".sheet", workshop_id=workshop.id))
    marks = {entry.form.registration_id.data: entry for entry in form.marks}
    return render_template("attendance/sheet.html", form=form, roster=roster, marks=marks,
                           **_common(workshop))


def _mark_data(row: queries.RosterRow) -> dict:
    status = row.status if row.status in attendance_services.SHEET_STATUSES else ""
    return {"registration_id": str(row.registration_id), "status": status,
            "adults": row.adults_present or 1, "children": row.children_present,
            "is_signed_on_paper": row.is_signed_on_paper}


def _candidate_choices(candidates) -> list:
    options = []
    for candidate in candidates:
        guardians = family_queries.live_guardians(candidate.family)
        names = ", ".join(" ".join(p for p in (g.last_name, g.first_name) if p) for g in guardians)
        phones = ", ".join(normalize.display_phone(g.phone) for g in guardians if g.phone)
        options.append((str(candidate.family.id), " · ".join(part for part in (names, phones) if part)))
    return choices([*options, ("new", _("No: a new family"))])


# ---------- What was shown to each family ----------

@bp.route(f"{PREFIX}/resources-shown", methods=["GET", "POST"])
def family_resources(workshop_id):
    workshop = _workshop(workshop_id)
    shown = queries.family_resources(db.session, workshop)
    families = [row for row in queries.sheet_order_roster(db.session, workshop)
                if row.is_present or row.family_id in shown]
    resources = resource_queries.list_resources(db.session, active_only=True)
    data = {}
    for row in families:
        ticked = shown.get(row.family_id, {})
        data[f"shown-{row.family_id.hex}"] = [str(rid) for rid in ticked]
        data[f"opened-{row.family_id.hex}"] = [str(rid) for rid, opened in ticked.items() if opened]
    form = forms.family_resources_form([row.family_id for row in families], resources, data=data)
    if form.validate_on_submit():
        try:
            for row in families:
                chosen, opened = forms.family_resource_ids(form, row.family_id)
                _run(attendance_services.record_family_resources, workshop,
                     _family(str(row.family_id)), chosen, opened, g.user)
        except ValidationFailed as error:
            db.session.rollback()
            apply_reasons(form, error)
        else:
            db.session.commit()
            flash(_("What was shown to the families was saved."), "success")
            return redirect(url_for(".family_resources", workshop_id=workshop.id))
    return render_template("attendance/family_resources.html", form=form, families=families,
                           has_resources=bool(resources), **_common(workshop))


# ---------- The panel of the atelier page ----------

@register_panel
def attendance_panel(workshop, user) -> Panel | None:
    """Roster, live counters and the ways to the check-in, the sheet and the headcount."""
    return Panel("attendance/_panel.html", {
        "counters": queries.counters(db.session, workshop),
        "roster": queries.sheet_order_roster(db.session, workshop),
        "status_labels": forms.STATUS_LABELS, "badges": forms.STATUS_BADGES,
    }, order=10)
