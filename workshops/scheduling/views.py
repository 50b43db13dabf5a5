"""Venues: the list with its filters, and the form every staff account may use."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from workshops.auth import queries as auth_queries
from workshops.core.errors import ValidationFailed
from workshops.core.forms import apply_reasons, choices, parse_uuid
from workshops.extensions import db
from workshops.scheduling import forms, queries, services
from workshops.scheduling.models import VENUE_KINDS

bp = Blueprint("scheduling", __name__)


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
