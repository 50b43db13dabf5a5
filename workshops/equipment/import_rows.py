"""What a row of a refurbisher's delivery list means: its columns, its values as the
refurbisher writes them ("Portable", "Très bon", "16 Go", "15/05/2025"), and the preview of
each row as a machine, with the asset tags already in the inventory or earlier in the file.
Reads only.

The reading, column mapping and preview are those of the family import
(families/importers.py); only the meaning of a row is here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from workshops.core.errors import Reason
from workshops.core.models import utcnow
from workshops.equipment import services
from workshops.equipment.models import TEXT_LIMITS, Equipment
from workshops.equipment.services import EquipmentData, clean_tag
from workshops.families.importers import Field, Preview, RowResult, Table, build_preview, row_result
from workshops.families.normalize import fold
from workshops.scheduling.localtime import to_local

KIND = "equipment"
FIELDS = (
    Field("asset_tag", _l("Asset tag"), (
        "n inventaire", "no inventaire", "numero d inventaire", "numero inventaire", "inventaire",
        "n d inventaire", "asset tag", "tag", "etiquette", "code barre", "id", "reference"),
        (("inventaire",), ("asset",), ("etiquette",)), is_required=True),
    Field("kind", _l("Kind of machine"), ("type", "type de materiel", "categorie", "kind", "materiel",
                                         "type d equipement"), (("type",), ("categorie",)),
          is_required=True),
    Field("brand", _l("Brand"), ("marque", "fabricant", "constructeur", "brand", "make", "manufacturer"),
          (("marque",), ("fabricant",))),
    Field("model", _l("Model"), ("modele", "model", "reference modele"), (("modele",), ("model",))),
    Field("serial", _l("Serial number"), ("n serie", "no serie", "numero de serie", "numero serie",
                                          "serie", "serial", "serial number", "s n", "sn"),
          (("serie",), ("serial",))),
    Field("cpu", _l("Processor"), ("processeur", "cpu", "processor", "proc"), (("processeur",), ("cpu",))),
    Field("ram_gb", _l("Memory (GB)"), ("ram", "ram go", "ram gb", "memoire", "memoire vive", "ram (go)",
                                        "memory"), (("ram",), ("memoire",))),
    Field("storage", _l("Storage"), ("disque", "stockage", "disque dur", "ssd", "hdd", "storage", "disk"),
          (("disque",), ("stockage",))),
    Field("operating_system", _l("Operating system"), (
        "systeme", "systeme d exploitation", "os", "operating system", "logiciel"),
        (("systeme",), ("os",))),
    Field("accessories", _l("Accessories"), ("accessoires", "accessories", "fourni avec"),
          (("accessoire",), ("accessoires",))),
    Field("origin", _l("Origin (collège or donor)"), (
        "college d origine", "origine", "college", "provenance", "donateur", "origin", "donor"),
        (("origine",), ("provenance",), ("college",))),
    Field("refurbisher", _l("Refurbisher"), ("reconditionneur", "refurbisher", "atelier"),
          (("reconditionneur",),)),
    Field("refurbished_on", _l("Refurbished on"), (
        "date reconditionnement", "date de reconditionnement", "reconditionne le", "date",
        "refurbished on", "refurbished"), (("date",),)),
    Field("grade", _l("Condition"), ("etat", "grade", "condition", "note", "qualite", "classe"),
          (("etat",), ("grade",))),
    Field("notes", _l("Notes"), ("notes", "remarques", "commentaire", "commentaires", "observations"),
          (("remarque",), ("commentaire",))),
)
LABELS = {spec.key: spec.label for spec in FIELDS}

# Words that name a kind of machine, folded ("unité centrale" -> "unite centrale").
KIND_WORDS = {
    "laptop": {"portable", "laptop", "notebook", "ultraportable", "netbook", "chromebook"},
    "desktop": {"fixe", "desktop", "uc", "tour", "bureau", "tower", "unite centrale", "pc fixe"},
    "tablet": {"tablette", "tablet", "ipad"},
    "phone": {"telephone", "smartphone", "phone", "mobile", "iphone"},
    "other": {"autre", "other", "ecran", "imprimante", "divers"},
}
GRADE_WORDS = {
    "very_good": {"tres bon", "tres bon etat", "a", "very good", "excellent", "comme neuf", "neuf"},
    "good": {"bon", "bon etat", "b", "good"},
    "fair": {"correct", "c", "fair", "moyen", "passable", "etat correct"},
    "poor": {"mauvais", "a revoir", "d", "poor", "use", "mauvais etat"},
}
# A spreadsheet's day numbers: 36526 is 1 January 2000, 73051 is 1 January 2100.
EXCEL_EPOCH = date(1899, 12, 30)
EXCEL_DAYS = range(36526, 73051)
_RAM = re.compile(r"(\d{1,4})\s*(?:go|gb|g|gio|gib|giga|gigas|gigaoctets?)?")
_DAY_FIRST = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")


def kind_of(text: str) -> str | None:
    """desktop | laptop | tablet | phone | other, or None when not understood:
    "Portable" -> laptop, "UC" -> desktop, "PC portable" -> laptop."""
    folded = fold(text)
    words = set(re.split(r"[\s/,;.\-()]+", folded))
    for kind, names in KIND_WORDS.items():
        if folded in names or words & names:
            return kind
    return None


def grade_of(text: str) -> tuple[str | None, bool]:
    """(grade, understood): "Très bon", "A" -> very_good; "" -> (None, True)."""
    folded = fold(text).strip(" .")
    if not folded:
        return None, True
    for grade, names in GRADE_WORDS.items():
        if folded in names:
            return grade, True
    return None, False


def ram_of(text: str) -> tuple[int | None, bool]:
    """(GB, understood): "16", "16 Go", "8GB" -> 16, 8; "" -> (None, True)."""
    folded = fold(text).replace(" ", "")
    if not folded:
        return None, True
    match = _RAM.fullmatch(folded)
    if not match or not 0 < int(match[1]) <= services.MAX_RAM_GB:
        return None, False
    return int(match[1]), True


def date_of(text: str) -> tuple[date | None, bool]:
    """(day, understood): "15/05/2025", "2025-05-15", a spreadsheet's date or day number;
    "" -> (None, True); "31/02/2025" -> (None, False)."""
    text = text.strip()
    if not text:
        return None, True
    try:
        if match := _DAY_FIRST.fullmatch(text):
            year = int(match[3]) + (2000 if len(match[3]) == 2 else 0)
            return date(year, int(match[2]), int(match[1])), True
        if match := _ISO.fullmatch(text):
            return date(int(match[1]), int(match[2]), int(match[3])), True
        if text.isdigit() and int(text) in EXCEL_DAYS:
            return EXCEL_EPOCH + timedelta(days=int(text)), True
    except ValueError:
        pass
    return None, False


def equipment_from_values(values: Mapping[str, str], structure_id: uuid.UUID | None,
                          ) -> tuple[EquipmentData, list[Reason], list[Reason]]:
    """(machine, refusals, warnings) of one row's values, before the inventory's rules."""
    refusals: list[Reason] = []
    warnings: list[Reason] = []
    text = {key: values.get(key, "").strip() for key in TEXT_LIMITS}
    for key, limit in TEXT_LIMITS.items():
        if len(text[key]) > limit:
            refusals.append((key, _l("%(field)s: longer than %(max)s characters.",
                                     field=LABELS[key], max=limit)))
    kind_text = values.get("kind", "").strip()
    kind = kind_of(kind_text)
    if kind is None:
        refusals.append(("kind", _l("Kind of machine not understood (%(value)s): write laptop, desktop, "
                                    "tablet, phone or other.", value=kind_text) if kind_text
                         else _l("The kind of machine is missing.")))
    ram, understood = ram_of(values.get("ram_gb", ""))
    if not understood:
        warnings.append(("ram_gb", _l("Memory not understood (%(value)s): left empty.",
                                      value=values["ram_gb"])))
    grade, understood = grade_of(values.get("grade", ""))
    if not understood:
        warnings.append(("grade", _l("Condition not understood (%(value)s): left empty.",
                                     value=values["grade"])))
    day, understood = date_of(values.get("refurbished_on", ""))
    if not understood:
        refusals.append(("refurbished_on", _l("Impossible refurbishing date (%(value)s): write it as "
                                              "dd/mm/yyyy.", value=values["refurbished_on"])))
    data = EquipmentData(
        asset_tag=clean_tag(text["asset_tag"]), structure_id=structure_id, kind=kind or "other",
        serial=text["serial"], brand=text["brand"], model=text["model"], cpu=text["cpu"], ram_gb=ram,
        storage=text["storage"], operating_system=text["operating_system"],
        accessories=text["accessories"], origin=text["origin"], refurbisher=text["refurbisher"],
        refurbished_on=day, grade=grade, notes=text["notes"])
    return data, refusals, warnings


def known_tags(db: Session) -> set[str]:
    """Every asset tag of the inventory, any structure (a tag is unique everywhere)."""
    return set(db.scalars(select(Equipment.asset_tag)))


def preview_equipment(db: Session, table: Table, mapping: Mapping[str, int],
                      structure_id: uuid.UUID | None, *, today: date | None = None) -> Preview:
    """Each row as a machine: refused (no or duplicate asset tag, one already in the
    inventory, unknown kind, impossible date, a date in the future or before 2000) or
    warned (memory or condition not understood, left empty) or ok. Writes nothing;
    raises nothing; asks the database once, not once per row."""
    known, seen = known_tags(db), {}
    today = today or to_local(utcnow()).date()

    def convert(line: int, values: dict[str, str]) -> RowResult:
        data, refusals, warnings = equipment_from_values(values, structure_id)
        tag = data.asset_tag
        if not tag:
            refusals.insert(0, ("asset_tag", _l("The asset tag is missing.")))
        elif tag in seen:
            refusals.insert(0, ("duplicate_in_file", _l(
                "Asset tag %(tag)s is already on line %(line)s of this file.", tag=tag, line=seen[tag])))
        elif tag in known:
            refusals.insert(0, ("already_known", _l("Asset tag %(tag)s is already in the inventory.",
                                                    tag=tag)))
        if tag:
            seen.setdefault(tag, line)
        # The inventory's own rules, the asset tag set aside (checked above for the whole
        # file at once, where equipment_problems would ask the database for each row).
        problems = services.equipment_problems(db, replace(data, asset_tag=""), today=today)
        refusals += [(field, message) for field, message in problems if field != "asset_tag"]
        return row_result(line, _label(data), data, refusals, warnings)

    return build_preview(table, mapping, convert)


def _label(data: EquipmentData) -> str:
    return " ".join(part for part in (data.asset_tag, data.brand, data.model) if part)

