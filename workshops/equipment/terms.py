"""The terms a family is given with a machine, one text per mode and language, versioned.

These are not interface strings: the exact text shown is stored with each handover with
its SHA-256, so a text is never edited in place. To change it, add a new version here and
make it CURRENT_VERSION; older versions stay so that stored hashes can still be checked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

CURRENT_VERSION = "2026-01"

TEXTS: dict[str, dict[str, dict[str, str]]] = {
    "2026-01": {
        "gift": {
            "fr": (
                "Le Département de la Vienne donne cet ordinateur reconditionné à votre famille, "
                "gratuitement. Il devient le vôtre : vous pouvez l'utiliser librement. Il ne peut "
                "pas être revendu. Il vous est remis avec un atelier pour bien démarrer. En cas de "
                "panne dans les six premiers mois, rapportez-le au conseiller numérique qui vous "
                "l'a remis. Vos données sur l'ordinateur sont à vous : personne d'autre n'y a accès."
            ),
            "en": (
                "The Département de la Vienne gives this refurbished computer to your family, free "
                "of charge. It becomes yours: you may use it freely. It may not be sold on. It comes "
                "with a workshop to get started. If it breaks down within the first six months, bring "
                "it back to the digital adviser who gave it to you. Your data on the computer is "
                "yours: nobody else has access to it."
            ),
        },
        "loan": {
            "fr": (
                "Cet ordinateur reconditionné est prêté à votre famille, gratuitement, jusqu'à la "
                "date de retour indiquée sur ce reçu ; le prêt peut être renouvelé. Il reste la "
                "propriété de la structure qui le prête. Prenez-en soin et rapportez-le à la date "
                "prévue, avec ses accessoires. En cas de panne, rapportez-le : il sera réparé ou "
                "remplacé si possible. Avant le retour, enregistrez vos fichiers ailleurs : "
                "l'ordinateur sera effacé."
            ),
            "en": (
                "This refurbished computer is lent to your family, free of charge, until the return "
                "date shown on this receipt; the loan can be renewed. It remains the property of the "
                "lending structure. Take care of it and bring it back on the date agreed, with its "
                "accessories. If it breaks down, bring it back: it will be repaired or replaced if "
                "possible. Before returning it, save your files elsewhere: the computer will be wiped."
            ),
        },
    },
}


@dataclass(frozen=True)
class Terms:
    """The text given to a family, and what is stored with the handover."""

    version: str
    mode: str
    language: str
    text: str

    @property
    def sha256(self) -> str:
        return sha256_of(self.text)


def sha256_of(text: str) -> str:
    """The SHA-256 of a text's UTF-8 bytes, in hexadecimal."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def terms_for(mode: str, language: str, version: str = CURRENT_VERSION) -> Terms:
    """The terms of `mode` (gift or loan) in `language`, French when that language has no
    text. Raises KeyError for an unknown version or mode."""
    texts = TEXTS[version][mode]
    chosen = language if language in texts else "fr"
    return Terms(version, mode, chosen, texts[chosen])
