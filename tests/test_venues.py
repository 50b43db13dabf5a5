"""Venues: rules, the filtered list with its count, and the form every staff role may use."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from workshops.auth import services as auth_services
from workshops.core.errors import ValidationFailed
from workshops.extensions import db as _db
from workshops.scheduling import services
from workshops.scheduling.models import Venue


@pytest.fixture
def epcis(app):
    """Two EPCI, committed: {"poitiers": id, "chatellerault": id}."""
    with app.app_context():
        ids = {"poitiers": auth_services.save_epci(_db.session, "200069854", "CU Grand Poitiers").id,
               "chatellerault": auth_services.save_epci(_db.session, "248600413",
                                                        "CA Grand Châtellerault").id}
        _db.session.commit()
    return ids


@pytest.fixture
def add_venue(app, epcis):
    """Save a venue and commit: add_venue(name, commune, epci="poitiers", kind="other") -> id."""

    def add(name, commune, epci="poitiers", kind="other", **fields):
        with app.app_context():
            venue = services.save_venue(_db.session, services.VenueData(
                name, commune, epcis[epci], kind, **fields))
            _db.session.commit()
            return venue.id

    return add


def _refused_fields(db, data):
    with pytest.raises(ValidationFailed) as refused:
        services.save_venue(db, data)
    return {field for field, _ in refused.value.reasons}


def test_a_venue_is_saved_tidy(db, epcis):
    venue = services.save_venue(db, services.VenueData(
        "  La Poste  de Naintré ", "Naintré", epcis["chatellerault"], "la_poste",
        address=" 1 place  de la Mairie", postcode="86530"))
    assert (venue.name, venue.address, venue.epci.name) == (
        "La Poste de Naintré", "1 place de la Mairie", "CA Grand Châtellerault")


@pytest.mark.parametrize("overrides,fields", [
    ({"name": " "}, {"name"}),
    ({"commune": ""}, {"commune"}),
    ({"epci_id": None}, {"epci_id"}),
    ({"kind": "stadium"}, {"kind"}),
    ({"postcode": "8600"}, {"postcode"}),
    ({"postcode": "86 000"}, {"postcode"}),
])
def test_refusals_name_the_field_to_correct(db, epcis, overrides, fields):
    data = services.VenueData("Médiathèque", "Vivonne", epcis["poitiers"], "mediatheque")
    assert _refused_fields(db, replace(data, **overrides)) == fields
    assert db.scalar(select(func.count()).select_from(Venue)) == 0


def test_unknown_epci_or_structure_is_refused(db, epcis):
    data = services.VenueData("Médiathèque", "Vivonne", uuid.uuid4(), structure_id=uuid.uuid4())
    assert _refused_fields(db, data) == {"epci_id", "structure_id"}


def test_a_name_is_used_once_per_commune(db, epcis):
    services.save_venue(db, services.VenueData("Médiathèque", "Vivonne", epcis["poitiers"]))
    for name, commune in (("MÉDIATHÈQUE", "Vivonne"), ("médiathèque", "VIVONNE")):
        assert _refused_fields(db, services.VenueData(name, commune, epcis["poitiers"])) == {"name"}
    other = services.save_venue(db, services.VenueData("Médiathèque", "Chauvigny", epcis["poitiers"]))
    assert other.id is not None


def test_the_list_counts_and_filters_venues(client, logged_in, add_venue, epcis):
    add_venue("Collège René Descartes", "Châtellerault", "chatellerault", "college")
    add_venue("Collège Jules Verne", "Poitiers", kind="college")
    add_venue("MDS de Chauvigny - France Services", "Chauvigny", kind="france_services")
    logged_in("conseiller")
    client.post("/language/en", data={"next": "/"})
    page = client.get("/venues").get_data(as_text=True)
    assert "3 venues" in page and "CA Grand Châtellerault" in page
    colleges = client.get("/venues?kind=college").get_data(as_text=True)
    assert "2 venues" in colleges and "Chauvigny" not in colleges
    both = client.get(f"/venues?kind=college&epci_id={epcis['poitiers']}").get_data(as_text=True)
    assert "1 venue" in both and "Jules Verne" in both and "Descartes" not in both
    none = client.get("/venues?kind=mediatheque").get_data(as_text=True)
    assert "No venue matches these filters" in none


def test_an_empty_list_says_what_to_do(client, logged_in):
    logged_in("conseiller")
    client.post("/language/en", data={"next": "/"})
    page = client.get("/venues").get_data(as_text=True)
    assert "No venue yet" in page and 'href="/venues/new"' in page


def test_the_form_warns_when_no_epci_is_known(client, logged_in):
    logged_in("admin")
    client.post("/language/en", data={"next": "/"})
    assert "flask seed reference" in client.get("/venues/new").get_data(as_text=True)


def test_a_conseiller_adds_a_venue_met_in_the_field(app, client, logged_in, epcis):
    logged_in("conseiller")
    response = client.post("/venues/new", data={
        "name": "Centre social de la Plaine", "kind": "centre_social", "commune": "Poitiers",
        "postcode": "86000", "epci_id": str(epcis["poitiers"]), "structure_id": "",
        "is_active": "y"})
    assert response.status_code == 302
    with app.app_context():
        venue = _db.session.scalar(select(Venue))
        assert (venue.name, venue.kind, venue.epci_id) == (
            "Centre social de la Plaine", "centre_social", epcis["poitiers"])


def test_a_refused_venue_comes_back_with_the_reason(app, client, logged_in, epcis):
    logged_in("conseiller")
    client.post("/language/en", data={"next": "/"})
    response = client.post("/venues/new", data={
        "name": "Médiathèque", "kind": "mediatheque", "commune": "Vivonne", "postcode": "86",
        "epci_id": ""})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "A postcode has 5 digits" in page and "figures are counted by EPCI" in page
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(Venue)) == 0


def test_editing_keeps_the_chosen_epci_and_saves_changes(app, client, logged_in, add_venue, epcis):
    venue_id = add_venue("Collège René Descartes", "Châtellerault", "chatellerault", "college")
    logged_in("conseiller")
    page = client.get(f"/venues/{venue_id}").get_data(as_text=True)
    assert f'<option selected value="{epcis["chatellerault"]}">' in page
    response = client.post(f"/venues/{venue_id}", data={
        "name": "Collège René Descartes", "kind": "college", "commune": "Châtellerault",
        "address": "Rue de l'Exemple", "epci_id": str(epcis["chatellerault"]), "structure_id": ""})
    assert response.status_code == 302
    with app.app_context():
        venue = _db.session.get(Venue, venue_id)
        assert (venue.address, venue.is_active) == ("Rue de l'Exemple", False)


def test_a_deactivated_host_structure_stays_chosen_on_the_edit_form(app, client, logged_in, add_venue):
    with app.app_context():
        host = auth_services.save_structure(_db.session, auth_services.StructureData(
            "Centre social Les Trois Cités", "centre_social", is_active=False))
        _db.session.commit()
        host_id = host.id
    venue_id = add_venue("Centre social Les Trois Cités", "Poitiers", structure_id=host_id)
    logged_in("conseiller")
    page = client.get(f"/venues/{venue_id}").get_data(as_text=True)
    assert f'<option selected value="{host_id}">Centre social Les Trois Cités</option>' in page
