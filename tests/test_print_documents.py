"""The attendance sheet, the certificate, the atelier summary and the handover receipt, as a
reader of the PDF sees them: text extracted with pypdf, pages rasterised with pdftoppm,
the QR code read back with zbarimg. Every render must give zero WeasyPrint warnings."""

from __future__ import annotations

import io
import logging
import re
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from weasyprint import CSS

from tests.test_registrations import build_world, new_family, new_workshop
from workshops.equipment import services as equipment_services
from workshops.equipment.services import EquipmentData
from workshops.families import attendance_services
from workshops.families import registration_queries as roster_queries
from workshops.families import registration_services as registrations
from workshops.families.services import FamilyData, GuardianData, create_family
from workshops.printing import documents, pdf
from workshops.resources.models import Resource
from workshops.scheduling.models import WorkshopAnimator, WorkshopResource

NOW = datetime(2026, 3, 14, 13, 0, tzinfo=UTC)
MM_PER_INCH = 25.4
LETTERS = "abcdefgh"


# ---------- helpers ----------

def normalised(text: str) -> str:
    """Whitespace collapsed, words split at a line end joined again."""
    return re.sub(r"\s+", " ", re.sub(r"-\s*\n\s*", "-", text)).strip()


def pages_text(rendered: pdf.Rendered) -> list[str]:
    reader = PdfReader(io.BytesIO(rendered.pdf))
    return [normalised(page.extract_text()) for page in reader.pages]


def rendered(document: pdf.Document) -> pdf.Rendered:
    result = pdf.render(document)
    assert result.warnings == []
    return result


def gray_pages(pdf_bytes: bytes, dpi: int) -> list[tuple[int, int, bytes]]:
    """Each page as (width, height, 8-bit gray pixels), with pdftoppm."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "doc.pdf"
        source.write_bytes(pdf_bytes)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", str(source), str(Path(folder) / "p")],
                       check=True)
        images = []
        for path in sorted(Path(folder).glob("p-*.pgm")):
            data = path.read_bytes()
            magic, width, height, _depth, pixels = re.match(
                rb"(P5)\s+(\d+)\s+(\d+)\s+(\d+)\s(.*)", data, re.S).groups()
            images.append((int(width), int(height), pixels))
        return images


def dark_in(image, x0: int, y0: int, x1: int, y1: int, threshold: int = 128) -> int:
    width, _height, pixels = image
    return sum(1 for y in range(y0, y1) for x in range(x0, x1) if pixels[y * width + x] < threshold)


def machine(db, world, tag="LR-2025-0042"):
    data = EquipmentData(asset_tag=tag, structure_id=world.home.id, kind="laptop", brand="Lenovo",
                         model="ThinkPad T480", serial="PF1ABC23", grade="good",
                         operating_system="Ubuntu 24.04", accessories="Chargeur, souris")
    item = equipment_services.add_equipment(db, data, world.manager, now=NOW)
    db.commit()
    return item


def family_speaking(db, world, language, last_name="Benali", first_name="Amina"):
    data = FamilyData(guardians=(GuardianData(first_name=first_name, last_name=last_name,
                                              phone="06 12 34 56 78", email="amina@example.org",
                                              language=language),
                                 GuardianData(first_name="Karim", last_name=last_name, language=language)),
                      structure_id=world.home.id, notice_version="2026-01")
    family = create_family(db, data, world.manager)
    db.commit()
    return family


@pytest.fixture
def world(db):
    world = build_world(db)
    world.workshop = new_workshop(db, world, title="Parents et numérique : Pronote et l’ENT")
    db.add(WorkshopAnimator(workshop=world.workshop, user=world.conseiller))
    db.commit()
    return world


# ---------- attendance sheet ----------

@pytest.fixture
def forty(db, world):
    """40 families registered, in random-looking order, one with phone and e-mail."""
    families = []
    for index in range(40):
        scrambled = (index * 17) % 40
        last = f"Lé{LETTERS[scrambled // 8]}{LETTERS[scrambled % 8]}ron"
        families.append(new_family(db, world, last, f"Prénom{LETTERS[index // 8]}{LETTERS[index % 8]}",
                                   phone="0601020304"))
        registrations.register_family(db, world.workshop, families[-1], world.conseiller)
    db.commit()
    return families


def test_the_sheet_lists_every_registered_family_once_with_the_screens_numbers(app, db, world, forty):
    document = documents.sheet_document(db, world.workshop)
    result = rendered(document)
    texts = pages_text(result)
    whole = " ".join(texts)
    roster = roster_queries.sheet_order_roster(db, world.workshop)
    assert len(roster) == 40 and result.pages >= 2
    for row in roster:
        name = f"{row.last_name.upper()} {row.first_name}"
        assert whole.count(name) == 1, name
        assert re.search(rf"(^| ){row.number} {re.escape(name)}( |$)", whole), (row.number, name)
    assert "0601020304" not in whole and "06 01 02 03 04" not in whole and "@" not in whole
    for number, text in enumerate(texts, start=1):
        assert "No. Last name, first name Adults Children Signature" in text  # thead repeated
        assert f"{number} / {result.pages}" in text
        assert world.workshop.title in text
    # 5 blank rows (PRINT_BLANK_ROWS), numbered after the registered families, each with the box.
    assert whole.count("Privacy notice given") == app.config["PRINT_BLANK_ROWS"] == 5
    assert re.search(r"41 Privacy notice given.*45 Privacy notice given", whole)
    assert len(result.pdf) <= 20_000 * result.pages


def test_the_sheet_header_says_what_a_funder_checks(app, db, world, forty):
    first = pages_text(rendered(documents.sheet_document(db, world.workshop, blank_rows=0)))[0]
    assert first.count(world.workshop.title) >= 2  # heading and footer
    for fact in ("Saturday, March 14, 2026", "2:30 PM to 4:30 PM (2 h 00)", "Collège Jules Verne, Poitiers",
                 "Département de la Vienne - DAS", "Camille"):
        assert fact in first, fact


def test_one_signature_column_for_a_half_day_two_when_it_crosses_1_pm_or_lasts_long(app, db, world):
    text = " ".join(pages_text(rendered(documents.sheet_document(db, world.workshop))))
    assert "Signature, morning" not in text and "Signature" in text
    # 10:00-12:00 Paris is a half-day; 10:00-16:00 crosses 13:00; 13:30-18:00 lasts 4 h 30.
    cases = [(datetime(2026, 3, 14, 9, tzinfo=UTC), 2, 1), (datetime(2026, 3, 14, 9, tzinfo=UTC), 6, 2),
             (datetime(2026, 3, 14, 12, 30, tzinfo=UTC), 4.5, 2)]
    for start, hours, columns in cases:
        world.workshop.start_dt, world.workshop.end_dt = start, start + timedelta(hours=hours)
        assert documents.half_days(documents.atelier_of(world.workshop)) == columns
    text = " ".join(pages_text(rendered(documents.sheet_document(db, world.workshop))))
    assert "Signature, morning" in text and "Signature, afternoon" in text


def test_blank_rows_follow_the_setting_or_the_argument(app, db, world, forty):
    app.config["PRINT_BLANK_ROWS"] = 2
    assert " ".join(pages_text(rendered(documents.sheet_document(db, world.workshop)))).count(
        "Privacy notice given") == 2
    whole = " ".join(pages_text(rendered(documents.sheet_document(db, world.workshop, blank_rows=8))))
    assert whole.count("Privacy notice given") == 8 and "48 Privacy notice given" in whole


def test_invited_families_are_not_printed_but_keep_their_number(app, db, world):
    registered = new_family(db, world, "Martin", "Élodie")
    invited = new_family(db, world, "Abadie", "Luc")
    registrations.register_family(db, world.workshop, registered, world.conseiller)
    registrations.register_family(db, world.workshop, invited, world.conseiller, status="invited")
    db.commit()
    text = " ".join(pages_text(rendered(documents.sheet_document(db, world.workshop, blank_rows=1))))
    assert "ABADIE" not in text and "2 MARTIN Élodie" in text and "3 Privacy notice given" in text


@pytest.mark.parametrize("funding,present,absent", [
    ("tne_france2030", "Territoires numériques éducatifs (TNE) programme", "European Union"),
    ("fse_plus", "Co-funded by the European Union", "France 2030"),
    ("none", "", "France 2030"),
])
def test_the_funding_block_follows_the_setting(app, db, world, funding, present, absent):
    app.config["PRINT_FUNDING"] = funding
    document = documents.sheet_document(db, world.workshop)
    text = " ".join(pages_text(rendered(document)))
    assert present in text and absent not in text and "European Union" not in text.replace(present, "")
    html = pdf.html_of(document)
    assert (html.count("<polygon") == 12) == (funding == "fse_plus")  # the flag's twelve stars
    css = re.sub(r"/\*.*?\*/", "", pdf.PRINT_CSS.read_text(encoding="utf-8"), flags=re.S)
    assert not re.search(r"(dotted|dashed)", css)


def test_rows_are_at_least_10_mm_and_the_margins_stay_blank(app, db, world, forty):
    result = rendered(documents.sheet_document(db, world.workshop))
    dpi = 50
    mm = dpi / MM_PER_INCH
    for image in gray_pages(result.pdf, dpi):
        width, height, _ = image
        band = round(10 * mm)
        assert dark_in(image, 0, 0, band, height) == 0  # left
        assert dark_in(image, width - band, 0, width, height) == 0  # right
        assert dark_in(image, 0, 0, width, band) == 0  # top
        assert dark_in(image, 0, height - round(5 * mm), width, height) == 0  # bottom, below the footer
    # Row heights measured on page 1 at 100 dpi: the horizontal rules are the pixel rows dark
    # all across the number column (14-23 mm from the left edge); text never is.
    image = gray_pages(result.pdf, 100)[0]
    width, height, pixels = image
    left, right = round(14.5 * 100 / MM_PER_INCH), round(22.5 * 100 / MM_PER_INCH)
    ruled = [y for y in range(height) if all(pixels[y * width + x] < 160 for x in range(left, right))]
    rules = [y for y in ruled if y - 1 not in ruled]
    heights = [b - a for a, b in zip(rules[1:], rules[2:], strict=False)]  # the rows after the header
    assert len(heights) >= 15, heights
    assert min(heights) >= 10 * 100 / MM_PER_INCH - 1


def test_the_stylesheet_parses_without_a_warning(app):
    messages = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: messages.append(record.getMessage())
    logging.getLogger("weasyprint").addHandler(handler)
    try:
        CSS(string=pdf.PRINT_CSS.read_text(encoding="utf-8"), base_url=pdf.BASE_URL,
            url_fetcher=pdf.LocalFetcher())
    finally:
        logging.getLogger("weasyprint").removeHandler(handler)
    assert messages == []


# ---------- certificate ----------

def present_family(db, world, language):
    family = family_speaking(db, world, language)
    registrations.check_in_family(db, world.workshop, family, world.conseiller, adults=2, children=1, at=NOW)
    db.commit()
    return family


@pytest.mark.parametrize("language", pdf.FAMILY_LANGUAGES)
def test_the_certificate_renders_in_each_family_language(app, db, world, language):
    family = present_family(db, world, language)
    document = documents.certificate_document(db, world.workshop, family)
    assert document.language == language
    text = " ".join(pages_text(rendered(document)))
    # Right-to-left text comes out of pypdf in visual order: check the Latin facts in fr and en.
    facts = ["Amina Benali", "Karim Benali", "Camille"]
    if language not in pdf.RTL_LANGUAGES:
        facts += [world.workshop.title, "Département de la Vienne - DAS", "Collège Jules Verne"]
    for fact in facts:
        assert fact in text, fact
    html = pdf.html_of(document)
    assert f'lang="{language}"' in html and ('dir="rtl"' in html) == (language == "ar")
    if language == "en":
        assert "Certificate of attendance" in text and "took part in the atelier" in text


def test_no_certificate_for_a_family_not_present(app, db, world):
    family = family_speaking(db, world, "fr")
    registrations.register_family(db, world.workshop, family, world.conseiller)
    db.commit()
    with pytest.raises(documents.NotAttended):
        documents.certificate_document(db, world.workshop, family)


# ---------- summary ----------

def test_the_summary_counts_match_the_atelier(app, db, world):
    families = [new_family(db, world, name, "A") for name in ("Alpha", "Bravo", "Charlie", "Delta", "Echo")]
    for family in families:
        registrations.register_family(db, world.workshop, family, world.conseiller)
    for family, adults, children in ((families[0], 2, 3), (families[1], 1, 0)):
        registrations.check_in_family(db, world.workshop, family, world.conseiller, adults=adults,
                                      children=children, at=NOW)
    registration = roster_queries.get_family_registration(db, world.workshop, families[2].id)
    registrations.set_status(db, registration, "excused", world.conseiller)
    registration = roster_queries.get_family_registration(db, world.workshop, families[3].id)
    registrations.set_status(db, registration, "absent", world.conseiller)
    attendance_services.set_headcount(db, world.workshop, "dix_huit_vingt_quatre", "en_emploi", 4,
                                      world.conseiller)
    pronote = Resource(name="Pronote", url="https://www.index-education.com/fr/pronote.php")
    db.add_all([pronote, WorkshopResource(workshop=world.workshop, resource=pronote, is_presented=True)])
    db.flush()
    attendance_services.record_family_resources(db, world.workshop, families[0], [pronote.id], [pronote.id],
                                                world.conseiller)
    equipment_services.hand_over(db, machine(db, world, "LR-1"), families[0], world.conseiller, mode="gift",
                                 workshop=world.workshop, now=NOW)
    equipment_services.hand_over(db, machine(db, world, "LR-2"), families[1], world.conseiller, mode="loan",
                                 workshop=world.workshop, now=NOW)
    db.commit()

    result = rendered(documents.summary_document(db, world.workshop))
    text = pages_text(result)
    assert result.pages == 1
    for line in ("Families present 2", "Adults present 3", "Children present 3",
                 "People counted without a name 4", "People present in all 10",
                 "Families registered or present 3", "Families absent 1", "Families excused 1",
                 "Pronote 1 1", "Gifts: 1. Loans: 1.", "LR-1 Gift With the family",
                 "LR-2 Loan With the family", "Camille"):
        assert line in text[0], line
    assert "Alpha" not in text[0]


# ---------- handover receipt ----------

def handover_for(db, world, language, mode="loan"):
    family = present_family(db, world, language)
    handover = equipment_services.hand_over(db, machine(db, world), family, world.conseiller, mode=mode,
                                            workshop=world.workshop, language=language, now=NOW)
    db.commit()
    return handover


@pytest.mark.parametrize("language", pdf.FAMILY_LANGUAGES)
def test_the_receipt_has_two_copies_the_exact_terms_and_their_hash(app, db, world, language):
    handover = handover_for(db, world, language)
    document = documents.receipt_document(db, handover)
    result = rendered(document)
    texts = pages_text(result)
    assert result.pages == 2 and document.language == language
    terms = normalised(handover.terms_text)
    for text in texts:
        assert terms in text
        assert handover.terms_sha256 in text.replace(" ", "")
        for fact in ("LR-2025-0042", "Lenovo ThinkPad T480", "PF1ABC23", "Ubuntu 24.04", "Chargeur, souris",
                     "Amina Benali", "Collège Jules Verne", "Camille", handover.terms_version):
            assert fact in text, fact
    if language == "en":
        assert "Copy for the family" in texts[0] and "Copy for the structure" in texts[1]
        assert "To bring back by March 14, 2027." in texts[0]
    html = pdf.html_of(document)
    assert ('dir="rtl"' in html) == (language == "ar")


def test_the_receipts_qr_code_decodes_to_the_terms_hash(app, db, world):
    handover = handover_for(db, world, "fr", mode="gift")
    result = rendered(documents.receipt_document(db, handover))
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "receipt.pdf"
        source.write_bytes(result.pdf)
        subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(source),
                        str(Path(folder) / "page")], check=True)
        image = next(Path(folder).glob("page*.png"))
        decoded = subprocess.run(["zbarimg", "-q", "--raw", "-Sdisable", "-Sqrcode.enable", str(image)],
                                 capture_output=True, text=True, check=True).stdout.split()
    assert decoded == [handover.terms_sha256]
