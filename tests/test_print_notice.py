"""The privacy notice for families (issue 8, part 2): versioned wording, printed in French,
English and Arabic, shown on screen, reachable from the family page and the check-in."""

from __future__ import annotations

import pytest

from tests.test_print_documents import pages_text, rendered
from workshops.families.notices import CURRENT_NOTICE
from workshops.printing import notice, pdf

NO_PASSWORD = {"fr": "Nous ne demandons jamais vos mots de passe",
               "en": "We never ask for your passwords",
               "ar": "لا نطلب أبدًا كلمات المرور"}


@pytest.mark.parametrize("language", pdf.FAMILY_LANGUAGES)
def test_the_notice_prints_on_one_page_in_each_language_with_its_version(app, language):
    with app.test_request_context():
        document = notice.notice_document(language)
        result = rendered(document)
        html = pdf.html_of(document)
    assert result.pages == 1
    assert NO_PASSWORD[language] in html
    assert ('dir="rtl"' in html.split(">", 2)[1]) == (language == "ar")
    if language != "ar":  # pypdf does not give Arabic back in reading order
        text = " ".join(pages_text(result))
        assert NO_PASSWORD[language] in text and CURRENT_NOTICE in text


def test_the_notice_says_the_controller_the_retention_and_where_to_write(app):
    app.config.update(RETENTION_MONTHS=18, PRIVACY_CONTACT="dpo@departement86.test")
    with app.test_request_context():
        text = " ".join(pages_text(rendered(notice.notice_document("en", large_print=True))))
    assert "Département de la Vienne" in text and "18 months after your last workshop" in text
    assert "write to dpo@departement86.test" in text
    app.config["PRIVACY_CONTACT"] = ""
    with app.test_request_context():
        text = " ".join(pages_text(rendered(notice.notice_document("en"))))
    assert "Ask the conseiller: they will do it or pass on your request." in text


def test_an_unknown_version_or_language_is_refused(app):
    with app.test_request_context(), pytest.raises(ValueError):
        notice.notice_document("en", "1999-01")
    with app.test_request_context(), pytest.raises(ValueError):
        notice.notice_document("de")


def test_the_notice_page_reads_it_on_screen_in_the_chosen_language_and_prints_it(client, logged_in):
    assert client.get("/confidentialite").status_code == 302, "staff only"
    logged_in("conseiller")
    page = client.get("/confidentialite").get_data(as_text=True)
    assert NO_PASSWORD["fr"] in page, "French by default"
    assert f'href="/confidentialite/notice.pdf?langue=ar&amp;version={CURRENT_NOTICE}"' in page
    arabic = client.get("/confidentialite?langue=ar").get_data(as_text=True)
    assert NO_PASSWORD["ar"] in arabic and 'lang="ar" dir="rtl"' in arabic
    printed = client.get("/confidentialite/notice.pdf?langue=en&gros=1")
    assert printed.status_code == 200 and printed.mimetype == "application/pdf"
    assert printed.headers["Cache-Control"] == "no-store"
    assert client.get("/confidentialite?version=1999-01").status_code == 404
    assert client.get("/confidentialite/notice.pdf?version=1999-01").status_code == 404
