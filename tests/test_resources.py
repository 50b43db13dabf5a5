"""The resources catalogue: rules, descriptions per language with a French fallback, list and form."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from workshops.core.errors import ValidationFailed
from workshops.core.models import DeviceState
from workshops.extensions import db as _db
from workshops.resources import services
from workshops.resources.models import Resource, ResourceDescription, description_id

PIX = services.ResourceData(
    name="Pix", url="pix.fr", category="skills", audience="both", needs_account=True,
    descriptions={"fr": "Des tests pour savoir utiliser le numérique.",
                  "en": "Tests to find out what you can do with digital tools."})


@pytest.fixture
def add_resource(app):
    """Save a resource and commit: add_resource(data) -> its id."""

    def add(data=PIX):
        with app.app_context():
            resource = services.save_resource(_db.session, data)
            _db.session.commit()
            return resource.id

    return add


def _refused_fields(data, db, resource=None):
    with pytest.raises(ValidationFailed) as refused:
        services.save_resource(db, data, resource)
    return {field for field, _ in refused.value.reasons}


def test_a_resource_keeps_its_description_per_language(db):
    resource = services.save_resource(db, PIX)
    assert resource.description_in("en").text == PIX.descriptions["en"]
    assert resource.description_in("fr").text == PIX.descriptions["fr"]
    assert {d.id for d in resource.descriptions} == {
        description_id(resource.id, "fr"), description_id(resource.id, "en")}


@pytest.mark.parametrize("language", ["ar", "uk", "de"])
def test_a_missing_language_falls_back_to_french(db, language):
    resource = services.save_resource(db, PIX)
    assert resource.description_in(language) == ("fr", PIX.descriptions["fr"])


def test_a_regional_locale_uses_its_language(db):
    data = services.ResourceData("Caf", descriptions={"fr": "Le compte Caf.", "pt": "A conta da Caf."})
    assert services.save_resource(db, data).description_in("pt_BR") == ("pt", "A conta da Caf.")


def test_clearing_a_translation_falls_back_to_french_again(db):
    resource = services.save_resource(db, PIX)
    services.save_resource(db, replace(PIX, descriptions={"en": " "}),
                           resource)
    assert resource.description_in("en") == ("fr", PIX.descriptions["fr"])


def test_a_language_left_out_keeps_its_text(db):
    resource = services.save_resource(db, PIX)
    services.save_resource(db, replace(PIX, descriptions={"en": "New English text."}), resource)
    assert resource.description_in("fr").text == PIX.descriptions["fr"]
    assert resource.description_in("en").text == "New English text."


@pytest.mark.parametrize("overrides,fields", [
    ({"name": "  "}, {"name"}),
    ({"url": "javascript:alert(1)"}, {"url"}),
    ({"url": "pix fr"}, {"url"}),
    ({"category": "games"}, {"category"}),
    ({"audience": "teachers"}, {"audience"}),
    ({"descriptions": {"en": "Only English."}}, {"description_fr"}),
    ({"descriptions": {"fr": "x" * 401}}, {"description_fr"}),
    ({"descriptions": {"fr": "Texte.", "xx": "?"}}, {None}),
])
def test_refusals_name_the_field_to_correct(db, overrides, fields):
    assert _refused_fields(replace(PIX, **overrides), db) == fields
    assert db.scalar(select(func.count()).select_from(Resource)) == 0


def test_a_name_is_used_once_whatever_its_case(db):
    services.save_resource(db, PIX)
    assert _refused_fields(replace(PIX, name="PIX"), db) == {"name"}
    educonnect = services.ResourceData("ÉduConnect", descriptions={"fr": "Un seul compte."})
    services.save_resource(db, educonnect)
    assert _refused_fields(educonnect, db) == {"name"}


@pytest.mark.parametrize("url,accepted", [
    ("pix.fr", True), ("https://www.impots.gouv.fr/", True), ("http://lireenvienne.fr", True),
    ("ftp://pix.fr", False), ("javascript:alert(1)", False), ("pix", False), ("pix.fr:x", False),
])
def test_web_addresses(url, accepted):
    assert services.is_web_address(url) is accepted


def test_saving_unchanged_data_records_no_change_to_sync(db):
    resource = services.save_resource(db, PIX)
    stamps = (resource.hlc, db.get(DeviceState, 1).hlc_physical, db.get(DeviceState, 1).hlc_counter)
    services.save_resource(db, PIX, resource)
    assert (resource.hlc, db.get(DeviceState, 1).hlc_physical, db.get(DeviceState, 1).hlc_counter) == stamps


def test_the_list_shows_descriptions_in_the_interface_language(client, logged_in, add_resource):
    add_resource()
    add_resource(services.ResourceData("Caf", category="public_service",
                                       descriptions={"fr": "Le compte de la Caf."}))
    logged_in("conseiller")
    client.post("/language/fr", data={"next": "/resources"})
    page = client.get("/resources").get_data(as_text=True)
    assert PIX.descriptions["fr"] in page and "pix.fr" in page
    client.post("/language/en", data={"next": "/resources"})
    page = client.get("/resources").get_data(as_text=True)
    assert PIX.descriptions["en"] in page
    assert '<td lang="fr">Le compte de la Caf.</td>' in page, "French fallback, marked as French"
    assert "2 resources" in page


def test_the_list_filters_by_category(client, logged_in, add_resource):
    add_resource()
    add_resource(services.ResourceData("Caf", category="public_service",
                                       descriptions={"fr": "Le compte de la Caf."}))
    logged_in("conseiller")
    client.post("/language/en", data={"next": "/"})
    page = client.get("/resources?category=public_service").get_data(as_text=True)
    assert "Le compte de la Caf." in page and PIX.descriptions["en"] not in page
    assert '<option selected value="public_service">' in page, "the filter shows what is applied"
    nothing = client.get("/resources?category=enej").get_data(as_text=True)
    assert "Caf" not in nothing and "No resource in this category" in nothing
    assert "Pix" in client.get("/resources?category=unknown").get_data(as_text=True)


def test_an_empty_catalogue_says_what_to_do(client, logged_in):
    logged_in("manager")
    page = client.get("/resources").get_data(as_text=True)
    assert "flask seed reference" in page and 'href="/resources/new"' in page


def test_a_conseiller_sees_the_catalogue_but_cannot_change_it(app, client, logged_in, add_resource):
    resource_id = add_resource()
    logged_in("conseiller")
    page = client.get("/resources").get_data(as_text=True)
    assert "Pix" in page and f"/resources/{resource_id}" not in page
    assert client.get(f"/resources/{resource_id}").status_code == 403
    response = client.post(f"/resources/{resource_id}", data={
        "name": "Renamed", "category": "other", "audience": "both", "description_fr": "Autre."})
    assert response.status_code == 403
    assert client.post("/resources/new", data={"name": "Intrus", "category": "other",
                                               "audience": "both", "description_fr": "x"}).status_code == 403
    with app.app_context():
        assert _db.session.scalars(select(Resource.name)).all() == ["Pix"]


def test_a_manager_creates_a_resource_with_two_languages(app, client, logged_in):
    logged_in("manager")
    response = client.post("/resources/new", data={
        "name": "ameli", "url": "ameli.fr", "category": "public_service", "audience": "parents",
        "needs_account": "y", "is_active": "y", "description_fr": "Le compte de l'Assurance maladie.",
        "description_en": "The health insurance account."})
    assert response.status_code == 302
    with app.app_context():
        resource = _db.session.scalar(select(Resource))
        assert (resource.name, resource.url, resource.needs_account) == ("ameli", "ameli.fr", True)
        assert resource.description_in("en").text == "The health insurance account."


def test_a_refused_form_comes_back_with_the_reason_and_saves_nothing(app, client, logged_in):
    logged_in("admin")
    client.post("/language/en", data={"next": "/"})
    response = client.post("/resources/new", data={
        "name": "ameli", "category": "public_service", "audience": "parents",
        "description_en": "English only."})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Write a short description in French" in page
    assert 'aria-invalid="true"' in page and "English only." in page
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(ResourceDescription)) == 0


def test_the_edit_form_shows_each_language_in_its_own_field(client, logged_in, add_resource):
    resource_id = add_resource()
    logged_in("manager")
    page = client.get(f"/resources/{resource_id}").get_data(as_text=True)
    assert PIX.descriptions["en"] in page
    assert 'lang="ar"' in page and 'dir="rtl"' in page
