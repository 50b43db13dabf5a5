"""`flask seed reference` and `flask seed demo`: what they load, twice, and where they refuse."""

from __future__ import annotations

from sqlalchemy import func, select

from workshops import create_app
from workshops.auth.models import Epci, Structure, User
from workshops.core.models import DeviceState
from workshops.extensions import db as _db
from workshops.families.models import Family, Registration
from workshops.resources.models import Resource, ResourceDescription
from workshops.scheduling.models import Venue, Workshop
from workshops.seed.demo import DEMO_PASSPHRASE

ENEJ = {"Lire en Vienne collèges", "Enseigno", "E-sidoc", "Stage de 3e"}
COLLEGES = {"Collège Prosper Mérimée", "Collège Arthur Rimbaud", "Collège Pierre de Ronsard",
            "Collège Jardin des Plantes", "Collège Jules Verne", "Collège Jean Jaurès",
            "Collège Joséphine Baker", "Collège René Descartes", "Collège Jean Rostand"}


def _seed(runner, *args):
    result = runner.invoke(args=["seed", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _count(model):
    return _db.session.scalar(select(func.count()).select_from(model))


def test_reference_twice_adds_and_changes_nothing(app, runner):
    first = _seed(runner, "reference")
    assert "EPCI                        7  (7 new)" in first
    with app.app_context():
        counts = [_count(model) for model in (Epci, Structure, Venue, Resource)]
        clock = _db.session.get(DeviceState, 1).last_stamp()
    second = _seed(runner, "reference")
    assert "(0 new)" in second and "new)" not in second.replace("(0 new)", "")
    with app.app_context():
        assert [_count(model) for model in (Epci, Structure, Venue, Resource)] == counts
        assert _db.session.get(DeviceState, 1).last_stamp() == clock, "no row was rewritten"


def test_reference_holds_the_seven_epci(app, runner):
    _seed(runner, "reference")
    with app.app_context():
        epcis = {e.siren: e for e in _db.session.scalars(select(Epci))}
    assert len(epcis) == 7 and all(len(s) == 9 and s.isdigit() for s in epcis)
    assert epcis["200069854"].name == "CU Grand Poitiers"
    assert sum(e.commune_count for e in epcis.values()) == 266


def test_reference_holds_the_nine_pilot_colleges_as_structures_and_venues(app, runner):
    _seed(runner, "reference")
    with app.app_context():
        structures = set(_db.session.scalars(select(Structure.name).where(Structure.kind == "college")))
        venues = {v.name: v for v in _db.session.scalars(select(Venue).where(Venue.kind == "college"))}
        assert structures == COLLEGES and set(venues) == COLLEGES
        assert all(v.structure.name == name for name, v in venues.items())


def test_every_venue_is_in_the_right_epci(app, runner):
    _seed(runner, "reference")
    with app.app_context():
        epci_of = {v.commune: v.epci.name for v in _db.session.scalars(select(Venue))}
    assert None not in epci_of.values()
    assert epci_of["Naintré"] == epci_of["Châtellerault"] == "CA Grand Châtellerault"
    assert epci_of["Gençay"] == epci_of["Civray"] == "CC du Civraisien en Poitou"
    assert epci_of["Vivonne"] == "CC des Vallées du Clain"
    assert epci_of["Saint-Savin"] == epci_of["Montmorillon"] == "CC Vienne et Gartempe"
    assert epci_of["Monts-sur-Guesnes"] == epci_of["Les Trois-Moutiers"] == "CC du Pays Loudunais"
    assert epci_of["Latillé"] == epci_of["Neuville-de-Poitou"] == "CC du Haut-Poitou"
    assert {epci_of[c] for c in ("Poitiers", "Vouneuil-sous-Biard", "Jaunay-Marigny", "Chauvigny")} \
        == {"CU Grand Poitiers"}


def test_the_enej_resources_are_described_in_french_and_english(app, runner):
    _seed(runner, "reference")
    with app.app_context():
        enej = {r.name: r for r in _db.session.scalars(select(Resource).where(Resource.category == "enej"))}
        assert set(enej) == ENEJ
        for resource in enej.values():
            texts = resource.descriptions_by_language()
            assert set(texts) == {"fr", "en"} and texts["fr"] != texts["en"]
        names = set(_db.session.scalars(select(Resource.name)))
    assert {"Pix", "FranceConnect", "ÉduConnect", "Caf", "ameli", "impots.gouv"} <= names


def test_edits_made_in_the_app_survive_a_second_run(app, runner):
    _seed(runner, "reference")
    with app.app_context():
        venue = _db.session.scalar(select(Venue).where(Venue.commune == "Vivonne"))
        venue.address = "Place du Marché"  # as a conseiller would through the form
        _db.session.commit()
    _seed(runner, "reference")
    with app.app_context():
        assert _db.session.scalar(select(Venue.address).where(Venue.commune == "Vivonne")) \
            == "Place du Marché"


def test_demo_is_refused_on_a_real_installation(app, runner):
    result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code != 0 and "not a demo instance" in result.output
    assert DEMO_PASSPHRASE not in result.output
    with app.app_context():
        assert _count(User) == 0 and _count(Epci) == 0


def test_demo_loads_accounts_that_log_in_with_the_printed_passphrase(app, runner, auth):
    app.config["DEMO"] = True
    output = _seed(runner, "demo")
    assert DEMO_PASSPHRASE in output and "demo-manager" in output
    with app.app_context():
        roles = {u.username: (u.role, u.structure.kind) for u in _db.session.scalars(select(User))}
        assert _count(Venue) == 17
    assert roles == {"demo-conseiller": ("conseiller", "departement"),
                     "demo-manager": ("manager", "departement"),
                     "demo-admin": ("admin", "departement")}
    assert auth.login("demo-conseiller", DEMO_PASSPHRASE).status_code == 302
    assert "already there" in _seed(runner, "demo")
    with app.app_context():
        assert _count(User) == 3


def _reference_ids(tmp_path, name):
    other = create_app({"TESTING": True, "SECRET_KEY": "k",
                        "DATABASE_URL": f"sqlite:///{tmp_path / name}"})
    with other.app_context():
        _db.create_all()
    assert other.test_cli_runner().invoke(args=["seed", "reference"]).exit_code == 0
    with other.app_context():
        ids = {model.__tablename__: set(_db.session.scalars(select(model.id)))
               for model in (Epci, Structure, Venue, Resource, ResourceDescription)}
        _db.engine.dispose()
    return ids


def test_two_installations_seeded_apart_make_the_same_rows(tmp_path):
    """A hub and a laptop each load the reference data: their rows must be the
    same rows (same ids), or the first sync would meet duplicates."""
    hub, laptop = _reference_ids(tmp_path, "hub.sqlite"), _reference_ids(tmp_path, "laptop.sqlite")
    assert hub == laptop
    assert all(hub.values())


def test_demo_brings_ateliers_families_and_attendance_once(app, runner):
    app.config["DEMO"] = True
    _seed(runner, "demo")
    with app.app_context():
        first = (_count(Workshop), _count(Family), _count(Registration))
        held = _db.session.scalar(select(func.count()).select_from(Workshop)
                                  .where(Workshop.status == "held"))
        present = _db.session.scalar(select(func.count()).select_from(Registration)
                                     .where(Registration.status == "attended"))
    assert first == (12, 48, 120)
    assert held >= 1 and present >= 1, "past ateliers are closed with families present"
    _seed(runner, "demo")
    with app.app_context():
        assert (_count(Workshop), _count(Family), _count(Registration)) == first


def test_volume_is_refused_on_a_real_installation(app, runner):
    result = runner.invoke(args=["seed", "volume", "--families", "5"])
    assert result.exit_code != 0 and "not a demo instance" in result.output


def test_volume_builds_the_asked_numbers(app, runner):
    app.config["DEMO"] = True
    output = _seed(runner, "volume", "--families", "30", "--workshops", "6", "--registrations", "60")
    assert "30 families, 6 ateliers, 60 registrations" in output
    with app.app_context():
        # On top of the demo's own ateliers and families.
        assert _count(Workshop) == 12 + 6 and _count(Family) == 48 + 30
        assert _count(Registration) == 120 + 60
