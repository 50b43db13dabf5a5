"""The register of processing (GDPR art. 30) is all in the interface's language: in French, no
English heading ("Controller", "Recipients", ...), no English placeholder when PRIVACY_CONTACT is
empty (the default), and French typography ("**Destinataires** : ..."). Checked on the page
(/privacy/register), the `flask privacy register` command and the Markdown text itself."""
from __future__ import annotations

import re

from flask_babel import force_locale

from workshops.privacy.register import controller_of, register_markdown

ENGLISH = ("Register of processing activities", "Controller", "Persons concerned", "Personal data",
           "Recipients", "Transfers outside the EU", "Retention", "Security measures",
           "PRIVACY_CONTACT not set", "DPO's address")
FRENCH = ("Registre des activités de traitement", "**Responsable du traitement** : ",
          "(PRIVACY_CONTACT non renseigné : indiquez l'adresse du délégué à la protection des données)",
          "- **Personnes concernées** : ", "- **Données personnelles** :", "- **Destinataires** : ",
          "- **Transferts hors de l'Union européenne** : aucun", "- **Durée de conservation** : ",
          "## Mesures de sécurité")


def _check_french(text: str) -> None:
    assert [word for word in ENGLISH if word in text] == []
    assert re.findall(r"\*\*: ", text) == [], "an English colon after a heading"
    assert [heading for heading in FRENCH if heading not in text] == []


def test_the_register_text_of_a_fresh_installation_is_all_french(app):
    with app.app_context(), app.test_request_context(), force_locale("fr"):
        text = register_markdown(controller_of(app.config), app.config["RETENTION_MONTHS"])
    _check_french(text)


def test_the_register_page_is_all_french_in_the_french_interface(app, client, logged_in):
    app.config["BABEL_DEFAULT_LOCALE"] = "fr"
    logged_in("manager")
    response = client.get("/privacy/register")
    assert response.status_code == 200
    page = response.get_data(as_text=True).replace("&#39;", "'").replace("&#x27;", "'")
    _check_french(page)


def test_the_register_command_writes_french(app):
    app.config["BABEL_DEFAULT_LOCALE"] = "fr"
    result = app.test_cli_runner().invoke(args=["privacy", "register", "--out", "-"])
    assert result.exit_code == 0, result.output
    _check_french(result.output)


def test_the_register_stays_english_in_the_english_interface(app):
    app.config["PRIVACY_CONTACT"] = "dpo@example.org"
    with app.app_context(), app.test_request_context(), force_locale("en"):
        text = register_markdown(controller_of(app.config), 24)
    assert "**Controller**: " in text and "(dpo@example.org)" in text
    assert "- **Transfers outside the EU**: none" in text and "- **Personal data**:" in text
