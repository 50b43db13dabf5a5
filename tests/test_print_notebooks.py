"""The password notebook and the family guide: what a family holds in its hands (pypdf text,
pdftoppm + zbarimg for the QR codes), in French, English and Arabic, and the promise that the
app never takes, keeps or prints a family's password."""

from __future__ import annotations

import builtins
import importlib
import inspect
import io
import os
import pkgutil
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from pypdf import PdfReader
from wtforms import Form, PasswordField
from wtforms.fields.core import UnboundField

import workshops
from tests.test_registrations import build_world, new_family, new_workshop
from workshops.extensions import db as _db
from workshops.families.models import FamilyResource, Registration
from workshops.printing import notebooks, pdf
from workshops.resources.models import Resource, ResourceDescription
from workshops.scheduling.models import WorkshopResource

SECRET = "Chaton-Bleu-1987!"  # what a guardian might type into a note: never printed
RESOURCES = [  # name, address, needs an account, planned, presented
    ("Lire en Vienne", "https://www.lireenvienne.fr", True, True, True),
    ("PIX", "pix.fr", True, True, False),
    ("Ameli", "https://www.ameli.fr/assure", True, False, True),
    ("Annuaire sans site", "", False, True, True),
]
EXPECTED_ADDRESSES = {"https://www.lireenvienne.fr", "https://pix.fr", "https://www.ameli.fr/assure",
                      notebooks.EDUCONNECT_ADDRESS, notebooks.FRANCECONNECT_ADDRESS}


@pytest.fixture
def scene(db):
    """An atelier with resources planned and presented, and a family whose guardian note
    holds a secret."""
    world = build_world(db)
    workshop = new_workshop(db, world, title="Parents et numérique")
    for name, url, account, planned, presented in RESOURCES:
        resource = Resource(name=name, url=url, needs_account=account)
        resource.descriptions = [ResourceDescription(language="fr", text=f"{name} : à quoi ça sert.")]
        if name == "Lire en Vienne":
            resource.descriptions.append(ResourceDescription(language="en", text="Free e-books to borrow."))
        db.add(resource)
        db.add(WorkshopResource(workshop=workshop, resource=resource, is_planned=planned,
                                is_presented=presented))
    family = new_family(db, world, "Benali", "Yasmina")
    family.notes = f"Mot de passe de la messagerie : {SECRET}"
    db.commit()
    return world, workshop, family


def text_of(pdf_bytes: bytes) -> list[str]:
    """Each page's text, whitespace collapsed."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf_bytes)).pages]


def rendered(document: pdf.Document) -> pdf.Rendered:
    result = pdf.render(document)
    assert result.warnings == []
    return result


def notebook(db, scene, **options) -> pdf.Rendered:
    """The scene family's notebook, in English unless a language is given (texts are asserted
    on the msgids)."""
    _world, workshop, family = scene
    options.setdefault("language", "en")
    return rendered(notebooks.notebook_document(db, family, workshop=workshop, **options))


def decoded_qr_codes(pdf_bytes: bytes, tmp_path: Path) -> list[str]:
    """Every QR code of the document, read back from a 150 dpi raster."""
    out = tmp_path / "raster"
    out.mkdir()
    (out / "doc.pdf").write_bytes(pdf_bytes)
    subprocess.run(["pdftoppm", "-r", "150", "-gray", "-png", str(out / "doc.pdf"), str(out / "page")],
                   check=True)
    pages = sorted(str(p) for p in out.glob("page*.png"))
    result = subprocess.run(["zbarimg", "-q", "--raw", "-Sdisable", "-Sqrcode.enable", *pages],
                            capture_output=True, text=True)
    return [line for line in result.stdout.splitlines() if line]


# ---------- The notebook ----------

def test_the_cover_names_nobody_unless_asked(db, scene):
    cover = text_of(notebook(db, scene).pdf)[0]
    assert "Benali" not in cover and "Yasmina" not in cover
    assert "My internet accounts" in cover and "Département de la Vienne - DAS" in cover
    named = text_of(notebook(db, scene, show_name=True).pdf)
    assert "Yasmina Benali" in named[0]
    assert sum(page.count("Benali") for page in named) == 1, "the name is on the cover only"


def test_a_french_family_gets_its_notebook_in_french_and_an_arabic_one_in_arabic(db, scene):
    cover = text_of(notebook(db, scene, language="fr").pdf)[0]
    assert "Mes comptes sur internet" in cover
    assert "My internet accounts" not in cover
    assert "حساباتي على الإنترنت" in pdf.html_of(notebooks.notebook_document(
        db, scene[2], workshop=scene[1], language="ar"))


def test_the_advice_page_says_who_to_call(db, scene, app):
    pages = text_of(notebook(db, scene).pdf)
    advice = " ".join(pages[1:3])
    assert "05 67 802 222" in advice and "Cybermalveillance.gouv.fr" in advice
    assert "at least 12 characters" in advice and "Never give a password by phone" in advice
    app.config["HELPLINE_PHONE"] = "05 49 00 00 00"
    assert "05 49 00 00 00" in " ".join(text_of(notebook(db, scene).pdf)[1:3])


def test_one_titled_block_per_account_then_blank_blocks_that_fill_the_last_page(db, scene):
    result = notebook(db, scene)
    pages = text_of(result.pdf)
    text = " ".join(pages)
    for title in ("My e-mail", "School ENT / EduConnect", "Lire en Vienne", "PIX", "Ameli"):
        assert text.count(title) == 1, title
    assert text.count("FranceConnect") == 1
    assert "Annuaire sans site" not in text, "a resource without a web address has no block"
    for address in EXPECTED_ADDRESSES:
        assert text.count(address) == 1, address
    titled, per_page = 6, notebooks.BLOCKS_PER_PAGE[("a4", False)]
    blocks = text.count("Identifier (e-mail or login)")
    assert blocks - titled == text.count("Website or service") >= notebooks.MIN_BLANK_BLOCKS
    assert blocks % per_page == 0
    account_pages = [page for page in pages if "Identifier (e-mail or login)" in page]
    per_account_page = [page.count("Identifier (e-mail or login)") for page in account_pages]
    assert per_account_page == [per_page] * len(account_pages)
    assert all(page.count("Password") >= per_page and page.count("Changed on") == per_page
               for page in account_pages)
    assert result.pages == 2 + len(account_pages)


def test_every_qr_code_decodes_to_a_printed_address(db, scene, tmp_path):
    result = notebook(db, scene)
    codes = decoded_qr_codes(result.pdf, tmp_path)
    assert sorted(codes) == sorted(EXPECTED_ADDRESSES)
    text = " ".join(text_of(result.pdf))
    assert all(code in text for code in codes)


def test_a5_pages_are_a5_and_large_print_is_larger(db, scene):
    a4 = notebook(db, scene)
    a5 = notebook(db, scene, page_format="a5")
    sizes = {(round(float(p.mediabox.width), 1), round(float(p.mediabox.height), 1))
             for p in PdfReader(io.BytesIO(a5.pdf)).pages}
    assert sizes == {(419.5, 595.3)}
    large = notebook(db, scene, large_print=True)
    assert large.pages > a4.pages
    _world, workshop, family = scene
    html = pdf.html_of(notebooks.notebook_document(db, family, workshop=workshop, large_print=True))
    assert re.search(r'<body class="[^"]*large-print', html)
    large_a5 = notebook(db, scene, page_format="a5", large_print=True)
    account_pages = [p for p in text_of(large_a5.pdf) if "Identifier (e-mail or login)" in p]
    assert {p.count("Identifier (e-mail or login)") for p in account_pages} == {2}


@pytest.mark.parametrize("language", pdf.FAMILY_LANGUAGES)
def test_every_language_renders_without_warnings_and_arabic_right_to_left(db, scene, language):
    _world, workshop, family = scene
    for document in (notebooks.notebook_document(db, family, workshop=workshop, language=language),
                     notebooks.notebook_document(db, family, workshop=workshop, language=language,
                                                 page_format="a5", large_print=True, show_name=True),
                     notebooks.guide_document(db, family, workshop, language=language)):
        result = rendered(document)
        assert result.pages >= 1 and len(result.pdf) <= 200_000
        html = pdf.html_of(document)
        assert f'lang="{language}"' in html
        assert ('dir="rtl"' in html.split(">", 2)[1]) == (language == "ar")


def test_the_family_language_is_the_default(db, scene):
    _world, workshop, family = scene
    family.guardians[0].language = "ar"
    assert notebooks.notebook_document(db, family, workshop=workshop).language == "ar"
    assert notebooks.guide_document(db, family, workshop).language == "ar"
    with pytest.raises(ValueError):
        notebooks.notebook_document(db, family, workshop=workshop, page_format="letter")
    with pytest.raises(ValueError):
        notebooks.notebook_document(db, family, workshop=workshop, language="xx")


def test_without_an_atelier_the_blocks_come_from_the_familys_ateliers(db, scene):
    world, workshop, family = scene
    other = new_workshop(db, world, title="Autre atelier")
    extra = Resource(name="Pronote", url="https://www.index-education.com/fr/pronote.php")
    db.add(extra)
    db.flush()
    db.add(FamilyResource(workshop_id=other.id, family_id=family.id, resource_id=extra.id, is_shown=True))
    db.add(Registration(workshop=workshop, family=family, status="registered"))
    db.commit()
    text = " ".join(text_of(rendered(notebooks.notebook_document(db, family)).pdf))
    assert all(name in text for name in ("Lire en Vienne", "PIX", "Ameli", "Pronote"))


def test_a_notebook_stays_small(db, scene):
    assert len(notebook(db, scene).pdf) <= 200_000
    assert len(notebook(db, scene, page_format="a5", large_print=True).pdf) <= 200_000


# ---------- The guide ----------

def test_the_guide_lists_each_presented_resource_with_its_address(db, scene):
    _world, workshop, family = scene
    text = " ".join(text_of(rendered(notebooks.guide_document(db, family, workshop, language="en")).pdf))
    assert "Useful websites" in text and "Parents et numérique" in text
    assert "Lire en Vienne" in text and "https://www.lireenvienne.fr" in text
    assert "Free e-books to borrow." in text, "the English description when there is one"
    assert "Ameli : à quoi ça sert." in text and "https://www.ameli.fr/assure" in text, "else French"
    assert "Annuaire sans site" in text and "Ask us for the address." in text
    assert "PIX" not in text, "planned but not presented"
    assert text.count("You need an account") == 2 and text.count("No account needed.") == 1


def test_the_guide_falls_back_to_the_planned_resources(db, scene, tmp_path):
    _world, workshop, family = scene
    for row in workshop.resources:
        row.is_presented = False
    db.commit()
    result = rendered(notebooks.guide_document(db, family, workshop, language="en"))
    text = " ".join(text_of(result.pdf))
    assert "PIX" in text and "https://pix.fr" in text and "Ameli" not in text
    assert sorted(decoded_qr_codes(result.pdf, tmp_path)) == ["https://pix.fr", "https://www.lireenvienne.fr"]


# ---------- The app never takes, keeps or writes a family's password ----------

PASSWORD_WORDS = ("password", "mot_de_passe", "passe")
STAFF_ACCOUNT_FORMS = "workshops.auth.forms"


def form_modules():
    """Every module of the app named forms.py or *_forms.py."""
    for info in pkgutil.walk_packages(workshops.__path__, "workshops."):
        if info.name.rsplit(".", 1)[-1].endswith("forms") and ".migrations" not in info.name:
            yield importlib.import_module(info.name)


def test_no_form_outside_the_staff_accounts_takes_a_password():
    checked = 0
    for module in form_modules():
        for _name, form in inspect.getmembers(module, inspect.isclass):
            if not issubclass(form, Form) or form.__module__ != module.__name__:
                continue
            checked += 1
            for field_name, field in inspect.getmembers(form, lambda v: isinstance(v, UnboundField)):
                takes_password = issubclass(field.field_class, PasswordField) or any(
                    word in field_name.lower() for word in PASSWORD_WORDS)
                if module.__name__ != STAFF_ACCOUNT_FORMS:
                    assert not takes_password, f"{module.__name__}.{form.__name__}.{field_name}"
    assert checked >= 10, "the walk found the app's forms"


def test_no_table_outside_the_staff_accounts_has_a_password_column(app):
    for mapper in _db.Model.registry.mappers:
        if mapper.class_.__module__ == "workshops.auth.models":
            continue
        for column in mapper.columns:
            assert not any(word in column.name.lower() for word in PASSWORD_WORDS), \
                f"{mapper.class_.__name__}.{column.name}"


def files_under(folder: Path) -> set[Path]:
    """Every file below `folder`, leaving out WeasyPrint's own font copies (research e8)."""
    return {path for path in folder.rglob("*")
            if path.is_file() and not any(part.startswith("weasyprint") for part in path.parts)}


WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def test_rendering_a_notebook_writes_nothing_to_disk(db, scene, app, tmp_path, monkeypatch):
    _world, workshop, family = scene
    document = notebooks.notebook_document(db, family, workshop=workshop, show_name=True)
    rendered(document)  # the process's fonts are loaded once, before the watch starts
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))  # other test runs share /tmp
    watched = [Path(app.instance_path), Path(tempfile.gettempdir())]
    before = {folder: files_under(folder) for folder in watched}
    writes: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def recording_open(file, mode="r", *args, **kwargs):
        if isinstance(file, str | bytes | os.PathLike) and set(str(mode)) & set("wax+"):
            writes.append(os.fsdecode(file))
        return real_open(file, mode, *args, **kwargs)

    def recording_os_open(path, flags, *args, **kwargs):
        if flags & WRITE_FLAGS:
            writes.append(os.fsdecode(path))
        return real_os_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", recording_open)
    monkeypatch.setattr(io, "open", recording_open)
    monkeypatch.setattr(os, "open", recording_os_open)
    result = pdf.render(notebooks.notebook_document(db, family, workshop=workshop, show_name=True))
    monkeypatch.undo()
    assert result.pdf.startswith(b"%PDF") and result.warnings == []
    assert [path for path in writes if "weasyprint" not in Path(path).name] == []
    assert {folder: files_under(folder) for folder in watched} == before


def test_the_notebook_never_holds_what_the_family_keeps_secret(db, scene):
    _world, workshop, family = scene
    for options in ({}, {"show_name": True}, {"page_format": "a5", "large_print": True}):
        document = notebooks.notebook_document(db, family, workshop=workshop, **options)
        assert SECRET not in pdf.html_of(document) and SECRET not in repr(document.context)
        result = rendered(document)
        assert SECRET not in " ".join(text_of(result.pdf)) and SECRET.encode() not in result.pdf
    guide = notebooks.guide_document(db, family, workshop)
    assert SECRET not in pdf.html_of(guide)
