"""Venues (the list and the form every staff account may use), the ateliers list
and the week; the atelier page and its actions are in workshop_views."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from workshops.auth import queries as auth_queries
from workshops.core.errors import ValidationFailed
from workshops.core.forms import apply_reasons, choices, parse_uuid
from workshops.core.models import utcnow
from workshops.extensions import db
from workshops.scheduling import forms, queries, services, workshop_views
from workshops.scheduling.localtime import days_bounds, local_today, monday_of, parse_day
from workshops.scheduling.models import VENUE_KINDS, WORKSHOP_KINDS

bp = Blueprint("scheduling", __name__)

# The atelier page and its actions, declared in workshop_views (endpoint = function name).
for _rule, _view, _options in workshop_views.ROUTES:
    bp.add_url_rule(_rule, view_func=_view, **_options)

# Ateliers per page of the list (each row costs its Babel date formatting).
PAGE_SIZE = 25


def _epci_choices(empty_label: str):
    return choices([("", empty_label)] + [
        (str(e.id), e.name) for e in auth_queries.list_epcis(db.session)])


@bp.route("/venues")
def venues():
    filters = forms.VenueFilterForm(request.args)
    filters.epci_id.choices = _epci_choices(_("All EPCI"))
    # Read, not validated: an unknown value in a hand-typed address just means no filter.
    kind = filters.kind.data if filters.kind.data in VENUE_KINDS else None
    epci_id = parse_uuid(filters.epci_id.data)
    return render_template(
        "scheduling/venues.html", filters=filters, is_filtered=bool(kind or epci_id),
        venues=queries.list_venues(db.session, kind=kind, epci_id=epci_id),
        kind_labels=forms.VENUE_KIND_LABELS)


def _structure_choices(venue):
    structures = auth_queries.list_structures(db.session, active_only=True)
    # A host structure since deactivated stays offered, or saving would drop it silently.
    if venue is not None and venue.structure is not None and venue.structure not in structures:
        structures.append(venue.structure)
    return choices([("", _("— none —"))] + [(str(s.id), s.name) for s in structures])


# Every staff role may add or correct a venue: a conseiller meets new places.
@bp.route("/venues/new", methods=["GET", "POST"], defaults={"venue_id": None})
@bp.route("/venues/<uuid:venue_id>", methods=["GET", "POST"])
def venue_form(venue_id):
    venue = None
    if venue_id is not None:
        venue = queries.get_venue(db.session, venue_id) or abort(404)
    form = forms.VenueForm(obj=venue)
    form.epci_id.choices = _epci_choices(_("— choose —"))
    form.structure_id.choices = _structure_choices(venue)
    if request.method == "GET" and venue is not None:
        form.epci_id.data, form.structure_id.data = str(venue.epci_id), str(venue.structure_id or "")
    if form.validate_on_submit():
        try:
            services.save_venue(db.session, _venue_data(form), venue)
        except ValidationFailed as error:
            db.session.rollback()
            apply_reasons(form, error)
        else:
            db.session.commit()
            flash(_("The venue was saved."), "success")
            return redirect(url_for("scheduling.venues"))
    return render_template("scheduling/venue_form.html", form=form, venue=venue,
                           has_epcis=len(form.epci_id.choices) > 1)


def _venue_data(form: forms.VenueForm) -> services.VenueData:
    return services.VenueData(
        name=form.name.data, commune=form.commune.data, epci_id=parse_uuid(form.epci_id.data),
        kind=form.kind.data, address=form.address.data or "", postcode=form.postcode.data or "",
        structure_id=parse_uuid(form.structure_id.data), is_active=form.is_active.data)


@bp.route("/ateliers")
def workshops():
    """Upcoming (or past) ateliers of the user's scope, with filters and counts."""
    filters = forms.WorkshopFilterForm(request.args)
    filters.venue_id.choices = choices([("", _("All venues"))] + [
        (str(venue_id), name) for venue_id, name in queries.venue_names(db.session)])
    filters.structure_id.choices = _filter_structure_choices()
    is_past = request.args.get("when") == "past"
    criteria = _list_criteria(filters)
    upcoming_count, past_count = queries.count_workshops(db.session, g.user, **criteria)
    total = past_count if is_past else upcoming_count
    page = min(max(request.args.get("page", 1, type=int), 1), max(1, -(-total // PAGE_SIZE)))
    found = queries.list_workshops(db.session, g.user, upcoming=not is_past, limit=PAGE_SIZE,
                                   offset=(page - 1) * PAGE_SIZE, **criteria)
    arguments = {key: value for key, value in request.args.items()
                 if key not in ("when", "page") and value}
    return render_template(
        "scheduling/workshops.html", filters=filters, workshops=found, is_past=is_past,
        upcoming_count=upcoming_count, past_count=past_count, total=total, arguments=arguments,
        is_filtered=any(criteria.values()), page=page, has_next=page * PAGE_SIZE < total,
        first_shown=(page - 1) * PAGE_SIZE + 1, last_shown=(page - 1) * PAGE_SIZE + len(found),
        kind_labels=forms.WORKSHOP_KIND_LABELS, status_labels=forms.WORKSHOP_STATUS_LABELS)


def _filter_structure_choices():
    structures = auth_queries.list_structures(db.session)
    visible = auth_queries.visible_structure_ids(g.user)
    if visible is not None:
        structures = [s for s in structures if s.id in visible]
    return choices([("", _("All structures"))] + [(str(s.id), s.name) for s in structures])


def _list_criteria(filters: forms.WorkshopFilterForm) -> dict:
    """The list's filters from the query string: an unknown value means no filter."""
    start_day, end_day = filters.start.data, filters.end.data  # None when empty or malformed
    start = days_bounds(start_day, start_day)[0] if start_day else None
    end = days_bounds(end_day, end_day)[1] if end_day else None
    return {"kind": filters.kind.data if filters.kind.data in WORKSHOP_KINDS else None,
            "venue_id": parse_uuid(filters.venue_id.data),
            "structure_id": parse_uuid(filters.structure_id.data), "start": start, "end": end}


@bp.route("/ateliers/week")
def workshops_week():
    """Monday to Sunday of the week holding ?day= (today by default)."""
    today = local_today(utcnow())
    monday = monday_of(parse_day(request.args.get("day")) or today)
    days = queries.week(db.session, g.user, monday)
    return render_template(
        "scheduling/week.html", days=days, is_empty=not any(items for _day, items in days), today=today,
        monday=monday, previous=monday - timedelta(days=7), next=monday + timedelta(days=7),
        this_monday=monday_of(today), status_labels=forms.WORKSHOP_STATUS_LABELS)
