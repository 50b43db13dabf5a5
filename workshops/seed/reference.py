"""Reference data of the Vienne (EPCI, structures, venues, resources catalogue) and its loader."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workshops.auth import queries as auth_queries
from workshops.auth.models import Epci, Structure
from workshops.auth.services import StructureData, save_epci, save_structure
from workshops.core.models import derived_id
from workshops.resources import queries as resource_queries
from workshops.resources.models import Resource, ResourceDescription
from workshops.resources.services import ResourceData, save_resource
from workshops.scheduling import queries as venue_queries
from workshops.scheduling.models import Venue
from workshops.scheduling.services import VenueData, save_venue
from workshops.sync import tracking_services

# SIREN numbers of the 7 EPCI (répertoire SIRENE / BANATIC).
GRAND_POITIERS = "200069854"
GRAND_CHATELLERAULT = "248600413"
VIENNE_GARTEMPE = "200070043"
CIVRAISIEN = "200070035"
HAUT_POITOU = "200069763"
PAYS_LOUDUNAIS = "248600447"
VALLEES_CLAIN = "200043628"

# SIREN, name, number of communes.
EPCIS = (
    (GRAND_POITIERS, "CU Grand Poitiers", 40),
    (GRAND_CHATELLERAULT, "CA Grand Châtellerault", 47),
    (VIENNE_GARTEMPE, "CC Vienne et Gartempe", 55),
    (CIVRAISIEN, "CC du Civraisien en Poitou", 36),
    (HAUT_POITOU, "CC du Haut-Poitou", 27),
    (PAYS_LOUDUNAIS, "CC du Pays Loudunais", 45),
    (VALLEES_CLAIN, "CC des Vallées du Clain", 16),
)

DEPARTEMENT_DAS = "Département de la Vienne - Direction de l'Action Sociale"
DEPARTEMENT_MISSION = "Département de la Vienne - Mission aménagement et inclusion numériques"
LE_RESSORT = "EBE Le Ressort"
LA_POSTE = "La Poste"

# Structure name, kind, commune, EPCI SIREN (None: not tied to one territory).
# The EPCI are structures too: several employ conseillers numériques.
STRUCTURES = (
    (DEPARTEMENT_DAS, "departement", "Poitiers", GRAND_POITIERS),
    (DEPARTEMENT_MISSION, "departement", "Poitiers", GRAND_POITIERS),
    (LE_RESSORT, "entreprise", "Naintré", GRAND_CHATELLERAULT),
    (LA_POSTE, "la_poste", "", None),
    *((name, "intercommunalite", "", siren) for siren, name, _ in EPCIS),
)

# The TNE pilot public collèges: name, commune, postcode, EPCI SIREN. Each is a
# structure (a partner) and a venue (ateliers are held there).
COLLEGES = (
    ("Collège Prosper Mérimée", "Saint-Savin", "86310", VIENNE_GARTEMPE),
    ("Collège Arthur Rimbaud", "Latillé", "86190", HAUT_POITOU),
    ("Collège Pierre de Ronsard", "Poitiers", "86000", GRAND_POITIERS),
    ("Collège Jardin des Plantes", "Poitiers", "86000", GRAND_POITIERS),
    ("Collège Jules Verne", "Poitiers", "86000", GRAND_POITIERS),
    ("Collège Jean Jaurès", "Gençay", "86160", CIVRAISIEN),
    ("Collège Joséphine Baker", "Vouneuil-sous-Biard", "86580", GRAND_POITIERS),
    ("Collège René Descartes", "Châtellerault", "86100", GRAND_CHATELLERAULT),
    ("Collège Jean Rostand", "Neuville-de-Poitou", "86170", HAUT_POITOU),
)

# France Services: venue name, kind, commune, postcode, EPCI SIREN, host structure.
FRANCE_SERVICES = (
    ("MDS de Chauvigny - France Services", "france_services", "Chauvigny", "86300",
     GRAND_POITIERS, DEPARTEMENT_DAS),
    ("MDS de Montmorillon - France Services", "france_services", "Montmorillon", "86500",
     VIENNE_GARTEMPE, DEPARTEMENT_DAS),
    ("MDS de Civray - France Services", "france_services", "Civray", "86400",
     CIVRAISIEN, DEPARTEMENT_DAS),
    ("MDS de Jaunay-Marigny - France Services", "france_services", "Jaunay-Marigny", "86130",
     GRAND_POITIERS, DEPARTEMENT_DAS),
    ("La Poste de Naintré - France Services", "la_poste", "Naintré", "86530",
     GRAND_CHATELLERAULT, LA_POSTE),
    ("La Poste de Vivonne - France Services", "la_poste", "Vivonne", "86370",
     VALLEES_CLAIN, LA_POSTE),
    ("La Poste de Monts-sur-Guesnes - France Services", "la_poste", "Monts-sur-Guesnes", "86420",
     PAYS_LOUDUNAIS, LA_POSTE),
    ("La Poste des Trois-Moutiers - France Services", "la_poste", "Les Trois-Moutiers", "86120",
     PAYS_LOUDUNAIS, LA_POSTE),
)

# The catalogue. Addresses are printed for families, never fetched; left empty
# where each collège has its own (ENT, E-sidoc) or where it is reached through the ENEJ.
RESOURCES = (
    ResourceData("Lire en Vienne collèges", "lireenvienne.fr", "enej", "pupils", True, descriptions={
        "fr": "Des livres, des BD et des magazines à lire en ligne, gratuitement, avec des versions "
              "adaptées aux élèves qui ont des troubles DYS. On y entre avec le compte du collège.",
        "en": "Books, comics and magazines to read online for free, with versions adapted for pupils "
              "with DYS disorders such as dyslexia. Pupils log in with their school account."}),
    ResourceData("Enseigno", "", "enej", "pupils", True, descriptions={
        "fr": "Des explications et des exercices pour réviser les matières du collège et progresser à "
              "son rythme. On y entre avec le compte du collège.",
        "en": "Explanations and exercises to revise collège subjects and make progress at one's own "
              "pace. Pupils log in with their school account."}),
    ResourceData("E-sidoc", "", "enej", "pupils", False, descriptions={
        "fr": "Le portail du CDI, la bibliothèque du collège : chercher un livre, trouver des "
              "informations fiables et lire la presse.",
        "en": "The portal of the CDI, the collège library: look for a book, find reliable "
              "information and read the press."}),
    ResourceData("Stage de 3e", "", "enej", "both", True, descriptions={
        "fr": "Un service qui aide l'élève de 3e à trouver une entreprise ou une administration pour "
              "son stage d'observation d'une semaine.",
        "en": "A service that helps pupils in 3e (year 10) find a company or a public office to host "
              "their one-week observation internship."}),
    ResourceData("Pix", "pix.fr", "skills", "both", True, descriptions={
        "fr": "Des tests en ligne gratuits pour savoir ce que l'on sait faire avec le numérique et "
              "progresser. Les collégiens passent la certification Pix en 3e ; les adultes aussi "
              "peuvent s'en servir.",
        "en": "Free online tests to find out what you can do with digital tools and to improve. "
              "Collégiens take the Pix certificate in 3e; adults can use it too."}),
    ResourceData("ENT du collège", "", "school", "both", True, descriptions={
        "fr": "L'espace en ligne du collège : emploi du temps, devoirs, notes et messages avec les "
              "professeurs. Chaque parent a son propre compte, distinct de celui de son enfant.",
        "en": "The collège's online space: timetable, homework, marks and messages with teachers. "
              "Each parent has an account of their own, separate from their child's."}),
    ResourceData("ÉduConnect", "educonnect.education.gouv.fr", "school", "parents", True,
                 descriptions={
        "fr": "Un seul identifiant et un seul mot de passe pour les services en ligne de l'école et du "
              "collège de tous ses enfants : ENT, livret scolaire, bourses, orientation.",
        "en": "One login and one password for the online school services of all your children: ENT, "
              "school reports, grants, choices after 3e."}),
    ResourceData("FranceConnect", "franceconnect.gouv.fr", "public_service", "parents", True,
                 descriptions={
        "fr": "Un bouton pour entrer dans de nombreux services publics avec un compte que l'on a "
              "déjà (impots.gouv, ameli…), sans créer un mot de passe de plus.",
        "en": "A button to enter many public services with an account you already have "
              "(impots.gouv, ameli…), without creating one more password."}),
    ResourceData("Caf", "caf.fr", "public_service", "parents", True, descriptions={
        "fr": "Le compte de la Caisse d'allocations familiales : déclarer ses ressources, suivre ses "
              "aides (allocations familiales, logement, prime d'activité) et envoyer des papiers.",
        "en": "The family allowance office (CAF) account: declare your income, follow your benefits "
              "(family, housing, activity bonus) and send documents."}),
    ResourceData("ameli", "ameli.fr", "public_service", "parents", True, descriptions={
        "fr": "Le compte de l'Assurance maladie : suivre ses remboursements de soins, télécharger une "
              "attestation, signaler un changement de situation.",
        "en": "The national health insurance account: follow the refunds of medical costs, download "
              "a certificate, report a change in your situation."}),
    ResourceData("impots.gouv", "impots.gouv.fr", "public_service", "parents", True, descriptions={
        "fr": "L'espace particulier des impôts : déclarer ses revenus au printemps, payer, et "
              "télécharger l'avis d'impôt que d'autres services demandent souvent.",
        "en": "Your personal tax space: declare your income in spring, pay, and download the tax "
              "notice that other offices often ask for."}),
)

# What the loader reports, by table: the label printed and the model counted.
COUNTED = (("EPCI", Epci), ("structures", Structure), ("venues", Venue),
           ("resources", Resource), ("resource descriptions", ResourceDescription))


def load_reference(db: Session) -> list[tuple[str, int, int]]:
    """Create the reference data that is missing, by natural key: EPCI by SIREN,
    structure by name, venue by name and commune, resource by name.

    EPCI names and commune counts are refreshed; structures, venues and
    resources already there are left as they are, so edits made in the app
    survive a second run. Flushes, never commits. Returns (label, rows, new
    rows) per table. Raises ValidationFailed if a row of this file breaks a rule.

    On a laptop these rows are not changes to send to the hub: the hub loads the same rows
    (same derived ids) and laptops receive its copy.
    """
    with tracking_services.not_tracked(db):
        return _load_reference(db)


def _load_reference(db: Session) -> list[tuple[str, int, int]]:
    before = count_rows(db)
    epcis = {siren: save_epci(db, siren, name, communes) for siren, name, communes in EPCIS}
    structures = {name: ensure_structure(db, StructureData(
        name, kind, commune, epcis[siren].id if siren else None))
        for name, kind, commune, siren in STRUCTURES}
    for name, commune, postcode, siren in COLLEGES:
        college = ensure_structure(db, StructureData(name, "college", commune, epcis[siren].id))
        ensure_venue(db, VenueData(name, commune, epcis[siren].id, "college", "", postcode, college.id))
    for name, kind, commune, postcode, siren, host in FRANCE_SERVICES:
        ensure_venue(db, VenueData(name, commune, epcis[siren].id, kind, "", postcode,
                                   structures[host].id))
    for data in RESOURCES:
        resource_queries.find_resource_by_name(db, data.name) or save_resource(
            db, data, Resource(id=derived_id("resource", data.name)))
    after = count_rows(db)
    return [(label, after[label], after[label] - before[label]) for label, _ in COUNTED]


def ensure_structure(db: Session, data: StructureData) -> Structure:
    """The structure with this name, created from `data` when missing.
    Raises ValidationFailed when `data` breaks a rule."""
    return auth_queries.get_structure_by_name(db, data.name) or save_structure(
        db, data, Structure(id=derived_id("structure", data.name)))


def ensure_venue(db: Session, data: VenueData) -> Venue:
    """The venue with this name in this commune, created from `data` when missing.
    Raises ValidationFailed when `data` breaks a rule."""
    return venue_queries.find_venue(db, data.name, data.commune) or save_venue(
        db, data, Venue(id=derived_id("venue", data.name, data.commune)))


def count_rows(db: Session) -> dict[str, int]:
    """Rows not deleted in each table the loader fills, by label. Raises nothing."""
    return {label: db.scalar(select(func.count()).select_from(model)
                             .where(model.deleted_dt.is_(None)))
            for label, model in COUNTED}
