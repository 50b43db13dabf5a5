"""The atelier page's panel registry: later features add their part without
scheduling importing them."""

from __future__ import annotations

from datetime import date, time

import pytest
from argon2 import PasswordHasher
from jinja2 import ChoiceLoader, DictLoader

from tests.conftest import PASSWORD
from workshops.auth import services as auth_services
from workshops.auth.models import User
from workshops.extensions import db as _db
from workshops.scheduling import services
from workshops.scheduling import workshop_services as ws
from workshops.scheduling.models import Workshop
from workshops.scheduling.panels import Panel, panels_for, register_panel, unregister_panel

# A panel template as a feature would ship it: it reads its own context as `ctx`
# and may use the page's `workshop`.
PANEL_TEMPLATES = {
    "tests/_roster.html":
        '<section class="panel" id="roster">{{ ctx.families }} / {{ workshop.capacity }}</section>',
    "tests/_print.html": '<section class="panel" id="print">{{ ctx.label }}</section>',
}


def roster(workshop, user):
    return Panel("tests/_roster.html", {"families": 7}, order=10)


def printing(workshop, user):
    return Panel("tests/_print.html", {"label": "print-me"}, order=90)


def managers_only(workshop, user):
    return Panel("tests/_print.html", {"label": "for-managers"}) if user.role == "manager" else None


@pytest.fixture
def registered():
    """Register providers for one test; they are always removed afterwards."""
    added = []

    def register(*providers):
        for provider in providers:
            added.append(register_panel(provider))

    yield register
    for provider in added:
        unregister_panel(provider)


@pytest.fixture
def atelier(app, monkeypatch):
    """A committed atelier of capacity 12 on 29 March 2026, and a manager who may see it:
    (workshop id, username)."""
    monkeypatch.setattr(auth_services, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    with app.app_context():
        db = _db.session
        epci = auth_services.save_epci(db, "200069854", "CU Grand Poitiers")
        structure = auth_services.save_structure(db, auth_services.StructureData("Département DAS"))
        venue = services.save_venue(db, services.VenueData("Collège Jules Verne", "Poitiers", epci.id))
        manager = auth_services.create_user(db, auth_services.NewUser(
            "manon", "Manon", PASSWORD, role="manager", structure_id=structure.id))
        workshop = ws.save_workshop(db, ws.WorkshopData(
            "Atelier", date(2026, 3, 29), time(18), time(20), venue.id, structure.id, capacity=12), manager)
        db.commit()
        return workshop.id, manager.username


def _objects(workshop_id):
    return _db.session.get(Workshop, workshop_id), _db.session.query(User).one()


def ours(panels):
    """The panels of this file's providers (features register theirs too)."""
    return [panel for panel in panels if panel.template.startswith("tests/")]


def test_panels_come_in_their_order_and_none_means_nothing(app, atelier, registered):
    registered(printing, managers_only, roster)
    with app.app_context():
        workshop, manager = _objects(atelier[0])
        assert [p.context for p in ours(panels_for(workshop, manager))] == [
            {"families": 7}, {"label": "print-me"}, {"label": "for-managers"}]
        manager.role = "conseiller"
        assert [p.order for p in ours(panels_for(workshop, manager))] == [10, 90]


def test_a_provider_registers_once_and_unregisters(app, atelier, registered):
    registered(roster, roster)
    with app.app_context():
        workshop, manager = _objects(atelier[0])
        assert len(ours(panels_for(workshop, manager))) == 1
        unregister_panel(roster)
        assert ours(panels_for(workshop, manager)) == []
        unregister_panel(roster)  # twice is harmless


def test_the_atelier_page_includes_each_panel_with_its_context(app, client, atelier, registered):
    app.jinja_env.loader = ChoiceLoader([DictLoader(PANEL_TEMPLATES), app.jinja_env.loader])
    registered(printing, roster)
    workshop_id, username = atelier
    client.post("/login", data={"username": username, "password": PASSWORD})
    page = client.get(f"/ateliers/{workshop_id}").get_data(as_text=True)
    assert '<section class="panel" id="roster">7 / 12</section>' in page
    assert page.index('id="roster"') < page.index('id="print"')


def test_without_panels_the_page_still_renders(app, client, atelier):
    workshop_id, username = atelier
    client.post("/login", data={"username": username, "password": PASSWORD})
    page = client.get(f"/ateliers/{workshop_id}")
    assert page.status_code == 200 and b'id="roster"' not in page.data
