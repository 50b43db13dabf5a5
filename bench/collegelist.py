"""A made-up collège list to import, shaped like shared/samples/familles-exemple.csv.

Windows-1252, `;`, CRLF, the sample's eleven French headers, and the sample's mess:
names in capitals or not, phones in five spellings or "pas de tel", a few e-mails
that cannot be right, levels written "6ème" or "5EME B", a collège named without
"Collège", a row without a name, a line typed twice, and families the database
already knows (copied from its guardians), so the preview has warnings and refusals
to find, not just clean rows. The same seed gives the same bytes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

HEADERS = ("Nom du responsable", "Prénom du responsable", "Tél.", "E-mail", "Ville", "Établissement",
           "Niveau", "Enfant", "Équipement souhaité", "Langue parlée à la maison", "Consentement")
LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Girard", "Roux", "Fontaine", "Chevalier",
    "Yilmaz", "N'Diaye", "N’Diaye", "Nguyen", "Kowalski", "Haddad", "Benali", "Traoré", "Da Silva",
    "Petrenko", "Lefèvre", "Rousseau", "Gauthier", "Perrin", "Mercier", "Boyer", "Blanc", "Guérin",
    "Diallo", "Kaya", "Ferreira", "Bondarenko", "Mahamat", "Said", "Lemoine", "Caron", "Renaud",
    "Brunet", "Le Gall-Pérochon", "De La Fontaine", "Bouchaïb", "Ben Embarek", "Benoît", "Faure",
    "Petit", "Ç. Yilmaz", "Garnier", "Chauvin", "Marchand", "Bonnet", "Lambert", "Fabre", "Roussel",
    "Dupuis", "Giraud", "Rivière", "Ménard", "Barbier", "Arnaud", "Vidal", "Bertrand", "Morel",
    "Simon", "Michel", "Leroy", "David", "Fournier", "Legrand", "Gaillard", "Joly", "Aubert",
    "Colin", "Tessier", "Rey", "Pichon", "Boucher", "Charpentier", "Lacroix", "Hoarau", "Payet",
    "Mendes", "Oliveira", "Mansouri", "Belkacem", "Ouali", "Keita", "Coulibaly", "Sow", "Ba",
    "Tran", "Pham", "Le", "Hoang", "Melnyk", "Shevchenko", "Kovalenko", "Demir", "Çelik", "Aydin",
)
FIRST_NAMES = (
    "Élodie", "Nadia", "Sébastien", "Fatou", "Thi Huong", "Karim", "Olena", "Aylin", "João", "Marie",
    "Stéphane", "Aminata", "Loïc", "Samira", "Mehmet", "Isabelle", "Franck", "Nathalie", "Youssef",
    "Céline", "Oksana", "Mamadou", "Sandrine", "Ali", "Ana", "Christelle", "Rachid", "Anaïs",
    "Grégoire", "Aïcha", "Mohamed", "Jérôme", "Maëlle", "Ophélie", "Noémie", "Fatoumata", "Anh",
    "Zoé", "Kévin", "Bérénice", "Laurence", "Hélène", "Julien", "Virginie", "Mathieu", "Sophie",
    "Vanessa", "Cédric", "Émilie", "Hakim", "Leïla", "Malika", "Abdoulaye", "Mariam", "Dmytro",
    "Iryna", "Tetiana", "Hüseyin", "Zeynep", "Fernanda", "Paulo", "Minh", "Lan", "Quang", "Patrice",
)
CHILD_NAMES = (
    "Zoé", "Lucas", "Inès", "Noah", "Lina", "Adam", "Chloé", "Yanis", "Léa", "Rayan", "Emma",
    "Ibrahim", "Manon", "Mohamed", "Jade", "Eliott", "Sofia", "Hugo", "Maëlys", "Ilyes", "Grégoire",
    "Kévin", "Anaïs", "Élodie", "Youssef", "Thi Huong", "Oksana", "Loïc", "Aïcha", "Maëlle",
)
TOWNS = ("Poitiers", "Châtellerault", "Naintré", "Thuré", "Saint-Savin", "Neuville-de-Poitou",
         "Cenon-sur-Vienne", "Colombiers", "Scorbé-Clairvaux", "Vouneuil-sous-Biard", "Latillé",
         "Gençay", "Buxerolles", "Chasseneuil-du-Poitou")
COLLEGES = ("Collège du Jardin des Plantes", "Collège Arthur Rimbaud", "Collège Pierre de Ronsard",
            "Collège Jean Rostand", "Collège Jules Verne", "Collège Jean Jaurès",
            "Collège Prosper Mérimée", "Collège Joséphine Baker", "Collège René Descartes",
            "Jules Verne", "clg Jean Rostand")
LEVELS = ("6e",) * 6 + ("5e",) * 6 + ("4e",) * 6 + ("3e",) * 6 + (
    "6ème", "5EME B", "4e2", "3°", "troisième", "6e A")
COMPUTERS = ("", "", "aucun", "ordinateur fixe", "ordinateur fixe", "ordinateur portable", "portable",
             "déjà équipé")
LANGUAGES = ("français",) * 8 + ("arabe", "turc", "ukrainien", "portugais", "vietnamien", "anglais",
                                 "arabe / français", "dari")
CONSENTS = ("Oui", "oui", "OUI", "x", "x", "", "non")


def _phone(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.15:
        return ""
    if roll < 0.17:
        return rng.choice(("pas de tel", "0612", "liste rouge"))
    digits = f"0{rng.choice((6, 7))}{rng.randrange(10**8):08d}"
    pairs = [digits[i:i + 2] for i in range(0, 10, 2)]
    return rng.choice((
        digits, " ".join(pairs), ".".join(pairs), "+33 " + digits[1] + " " + " ".join(pairs[1:]),
        "+33" + digits[1:]))


def _email(rng: random.Random, first: str, number: int) -> str:
    roll = rng.random()
    if roll < 0.35:
        return ""
    if roll < 0.36:
        return rng.choice(("jean.dupont@@exemple", "pas de mail", "famille@exemple"))
    ascii_first = first.lower().encode("ascii", "ignore").decode().replace(" ", "")[:3] or "fam"
    return f"{ascii_first}.{number}@exemple.fr"


def _capitals(rng: random.Random, name: str) -> str:
    return name.upper() if rng.random() < 0.35 else name


def rows(count: int, known: Sequence[tuple[str, str, str]] = (), seed: int = 1000) -> list[list[str]]:
    """`count` rows of cells; `known` (last name, first name, phone) of guardians already
    in the database, of which about 3 % of the rows are copies."""
    rng = random.Random(seed)  # noqa: S311 (made-up data, reproducible on purpose)
    made: list[list[str]] = []
    for number in range(count):
        roll = rng.random()
        if made and roll < 0.01:
            made.append(list(rng.choice(made)))  # the same family typed twice
            continue
        if known and roll < 0.04:
            last, first, phone = rng.choice(known)
        else:
            last, first, phone = rng.choice(LAST_NAMES), rng.choice(FIRST_NAMES), _phone(rng)
        if rng.random() < 0.01:
            last = rng.choice(("", "  "))  # refused: no name
        made.append([
            _capitals(rng, last), first, phone, _email(rng, first, number), rng.choice(TOWNS),
            rng.choice(COLLEGES), rng.choice(LEVELS), rng.choice(CHILD_NAMES), rng.choice(COMPUTERS),
            rng.choice(LANGUAGES), rng.choice(CONSENTS)])
    return made


def csv_bytes(count: int = 1000, known: Sequence[tuple[str, str, str]] = (), seed: int = 1000) -> bytes:
    """The list as a collège sends it: Windows-1252, `;`, CRLF, header line first."""
    lines = [";".join(HEADERS)] + [";".join(cells) for cells in rows(count, known, seed)]
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")
