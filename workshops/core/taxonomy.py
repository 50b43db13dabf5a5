"""National activity codes of La Coop de la médiation numérique, used verbatim.

The codes are the national tool's database values (shared/taxonomy.md), so
exports need no translation table. Labels are message ids whose French
translations are La Coop's own labels.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# Thématiques (La Coop `Thematique`), the ones our ateliers use first.
THEMATIQUES = {
    "parentalite": _l("Parenting"),
    "scolarite_et_numerique": _l("Schooling and digital tools"),
    "prendre_en_main_du_materiel": _l("Getting started with a device"),
    "securite_numerique": _l("Digital safety"),
    "navigation_sur_internet": _l("Browsing the internet"),
    "email": _l("E-mail"),
    "gere_ses_contenus_numeriques": _l("Managing one's digital content"),
    "culture_numerique": _l("Digital culture"),
    "reseaux_sociaux": _l("Social networks"),
    "diagnostic_numerique": _l("Digital skills check"),
    "maintenance_de_materiel": _l("Device maintenance"),
    "bureautique": _l("Office software"),
    "aide_aux_demarches_administratives": _l("Help with online procedures"),
    "famille_scolarite": _l("Family - Schooling"),
    "intelligence_artificielle": _l("Artificial intelligence (AI)"),
}

# Atelier level (La Coop `NiveauAtelier`).
LEVELS = {
    "debutant": _l("Beginner"),
    "intermediaire": _l("Intermediate"),
    "avance": _l("Advanced"),
}

# Age brackets (La Coop `TrancheAge`), derived from a year of birth only.
AGE_BRACKETS = {
    "moins_de_douze": _l("Under 12"),
    "douze_dix_huit": _l("12 - 17"),
    "dix_huit_vingt_quatre": _l("18 - 24"),
    "vingt_cinq_trente_neuf": _l("25 - 39"),
    "quarante_cinquante_neuf": _l("40 - 59"),
    "soixante_soixante_neuf": _l("60 - 69"),
    "soixante_dix_plus": _l("70 and over"),
    "non_communique": _l("Not given"),
}

# Lower age bound of each bracket, oldest first (thresholds 12/18/25/40/60/70).
_BRACKET_FLOORS = (
    (70, "soixante_dix_plus"), (60, "soixante_soixante_neuf"), (40, "quarante_cinquante_neuf"),
    (25, "vingt_cinq_trente_neuf"), (18, "dix_huit_vingt_quatre"), (12, "douze_dix_huit"),
    (0, "moins_de_douze"),
)

# Social status (La Coop `StatutSocial`).
SOCIAL_STATUSES = {
    "retraite": _l("Retired"),
    "sans_emploi": _l("Out of work"),
    "en_emploi": _l("In work"),
    "scolarise": _l("In school"),
    "non_communique": _l("Not given or mixed"),
}

# Statistics buckets of durations in minutes (La Coop), upper bound excluded.
DURATION_BUCKETS = (
    (30, _l("Under 30 min")),
    (60, _l("30 min to 1 h")),
    (120, _l("1 h to 2 h")),
    (None, _l("2 h and more")),
)


def age_bracket(birth_year: int | None, current_year: int) -> str:
    """La Coop's age bracket from a year of birth (never a full date)."""
    if birth_year is None or birth_year > current_year:
        return "non_communique"
    age = current_year - birth_year
    return next(code for floor, code in _BRACKET_FLOORS if age >= floor)


def duration_bucket(minutes: int) -> str:
    """The label of La Coop's statistics bucket for a duration."""
    for upper, label in DURATION_BUCKETS:
        if upper is None or minutes < upper:
            return str(label)
    raise AssertionError("unreachable: the last bucket has no upper bound")
