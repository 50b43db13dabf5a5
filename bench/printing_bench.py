"""Printing metrics of design.md section 9 (run.py calls them; see README "Add a metric"):
sheet and notebook render times and size, the 200-page batch in its child process (time
and peak RSS), and page times while a batch renders."""

from __future__ import annotations

import io
import math
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
from pypdf import PdfReader
from sqlalchemy import select

from workshops import create_app
from workshops.auth.models import Structure
from workshops.auth.queries import get_user_by_username
from workshops.extensions import db
from workshops.families import registration_services
from workshops.families.services import ChildData, FamilyData, GuardianData, create_family
from workshops.printing import batch, pdf
from workshops.printing.documents import sheet_document
from workshops.printing.notebooks import guide_document, notebook_document
from workshops.resources.models import Resource
from workshops.scheduling.models import Venue, Workshop, WorkshopResource
from workshops.seed.reference import load_reference

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("fr", "en", "ar")
FIRST = ("Élodie", "Karim", "Zoé", "Mohamed", "Inès", "Jean-François", "Aïcha", "Olga", "Léa", "Youssef")
LAST = ("Martin", "Benali", "Lefèvre", "Nguyen", "Haddad", "Moreau", "Kovalenko", "Dupont", "Diallo",
        "Rousseau")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[94]


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.0f} ms, max {max(values):.0f} ms"


def last_name(number: int) -> str:
    """A different family name for each number, in letters only ("Martin-Bac")."""
    letters = "".join(chr(ord("a") + int(digit)) for digit in str(number))
    return f"{LAST[number % 10]}-{letters.capitalize()}"


def make_atelier(app, families: int, title: str) -> uuid.UUID:
    """An atelier with six resources presented and `families` registered households (names
    with accents, a third each in French, English and Arabic); untimed setup."""
    with app.app_context():
        load_reference(db.session)
        actor = get_user_by_username(db.session, "bench")
        structure = db.session.scalars(select(Structure).where(Structure.kind != "college")).first()
        venue = db.session.scalars(select(Venue)).first()
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
        workshop = Workshop(title=title, start_dt=start, end_dt=start + timedelta(hours=2), venue=venue,
                            structure=structure)
        resources = db.session.scalars(select(Resource).where(Resource.deleted_dt.is_(None))
                                       .order_by(Resource.name).limit(6)).all()
        db.session.add_all([workshop, *(WorkshopResource(workshop=workshop, resource=r, is_presented=True)
                                        for r in resources)])
        for number in range(families):
            family = create_family(db.session, FamilyData(
                guardians=(GuardianData(first_name=FIRST[number % 10], last_name=last_name(number),
                                        phone=f"06 12 34 {number // 100:02d} {number % 100:02d}",
                                        language=LANGUAGES[number % 3]),),
                children=(ChildData(first_name=FIRST[(number + 3) % 10], level="5e"),),
                structure_id=structure.id, notice_version="2026-01"), actor)
            registration_services.register_family(db.session, workshop, family, actor, allow_overbooking=True)
        db.session.commit()
        return workshop.id


def timed_renders(make, runs: int, warmup: int = 3) -> tuple[list[float], pdf.Rendered]:
    for _ in range(warmup):
        rendered = pdf.render(make())
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        rendered = pdf.render(make())
        durations.append((time.perf_counter() - started) * 1000)
    assert rendered.warnings == [], rendered.warnings
    return durations, rendered


def pdf_renders(bench, result) -> list:
    """p95 of the 40-family sheet and of a notebook (data to PDF bytes, in-process, warm)."""
    app = create_app(bench.app_config())
    workshop_id = make_atelier(app, 40, "Parents et numérique : Pronote et l'ENT")
    runs = 40
    with app.app_context():
        workshop = db.session.get(Workshop, workshop_id)
        sheet, sheet_pdf = timed_renders(lambda: sheet_document(db.session, workshop), runs)
        family = batch.batch_families(db.session, workshop)[0]
        notebook, notebook_pdf = timed_renders(
            lambda: notebook_document(db.session, family, workshop=workshop), runs)
        accounts = len(workshop.resources)
        db.engine.dispose()
    return [result("sheet 40 families p95", p95(sheet), "ms", 300,
                   f"sheet_document + pdf.render, 40 registered families, {sheet_pdf.pages} pages "
                   f"({len(sheet_pdf.pdf) // 1024} KB), {runs} renders after 3 warm-up; {spread(sheet)}"),
            result("notebook p95", p95(notebook), "ms", 500,
                   f"notebook_document (A4, {accounts} resources presented, QR codes) + pdf.render, "
                   f"{notebook_pdf.pages} pages, {runs} renders after 3 warm-up; {spread(notebook)}"),
            result("notebook size", len(notebook_pdf.pdf) / 1024, "KB", 200,
                   f"the same notebook, {notebook_pdf.pages} pages")]


def families_for_pages(app, pages: int) -> int:
    """How many families make a batch of about `pages` pages (one family's documents measured)."""
    probe = make_atelier(app, 1, "Mesure")
    with app.app_context():
        workshop = db.session.get(Workshop, probe)
        family = batch.batch_families(db.session, workshop)[0]
        documents = (notebook_document(db.session, family, workshop=workshop),
                     guide_document(db.session, family, workshop))
        per_family = sum(pdf.render(document).pages for document in documents)
    return math.ceil((pages - 2) / per_family)


def run_child(bench, workshop_id: uuid.UUID) -> tuple[float, float, bytes]:
    """The batch as the web process starts it: seconds, the child's peak RSS (MB, sampled
    every 10 ms) and the PDF from its stdout."""
    env = batch.child_environment({"DATABASE_URL": bench.database_url, "SECRET_KEY": bench.secret_key},
                                  str(bench.folder / "instance"))
    started = time.perf_counter()
    process = subprocess.Popen(batch.child_command(workshop_id), cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    chunks, peak = [], 0.0
    reader = threading.Thread(target=lambda: chunks.append(process.stdout.read()), daemon=True)
    reader.start()
    watched = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss / 2**20)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.01)
    reader.join()
    elapsed = time.perf_counter() - started
    assert process.returncode == 0, f"the batch child ended with {process.returncode}"
    return elapsed, peak, chunks[0]


def page_times_during_batch(bench, workshop_id: uuid.UUID, login) -> tuple[list[float], list[float]]:
    """Home page times every 20 ms, idle then while the web process's batch renders."""
    app = create_app(bench.app_config())
    client = login(app)

    def get() -> float:
        started = time.perf_counter()
        assert client.get("/").status_code == 200
        return (time.perf_counter() - started) * 1000

    for _ in range(50):
        get()
    idle = []
    for _ in range(200):
        idle.append(get())
        time.sleep(0.02)
    page = client.get(f"/ateliers/{workshop_id}/imprimer").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    started = client.post(f"/ateliers/{workshop_id}/imprimer/tout", data={"csrf_token": token})
    assert started.status_code == 303
    busy = []
    while client.get(f"/ateliers/{workshop_id}/imprimer/tout/etat").get_json()["state"] == "running":
        busy.append(get())
        time.sleep(0.02)
    assert client.get(f"/ateliers/{workshop_id}/imprimer/tout/etat").get_json()["state"] == "done"
    with app.app_context():
        db.engine.dispose()
    return idle, busy


def print_batch(bench, result, login) -> list:
    """The 200-page batch in its child process, and the home page meanwhile."""
    app = create_app(bench.app_config())
    families = families_for_pages(app, 200)
    workshop_id = make_atelier(app, families, "Tout imprimer")
    with app.app_context():
        db.engine.dispose()
    elapsed, peak, data = run_child(bench, workshop_id)
    pages = len(PdfReader(io.BytesIO(data)).pages)
    idle, busy = page_times_during_batch(bench, workshop_id, login)
    return [result("200-page batch", elapsed, "s", 12,
                   f"`flask print batch --out -` child as the web starts it (start-up included): sheet + "
                   f"{families} notebooks and guides (fr/en/ar) = {pages} pages, {len(data) // 1024} KB"),
            result("200-page batch peak RSS (child)", peak, "MB", 300,
                   "RSS of the child process sampled every 10 ms, maximum"),
            result("page p95 while a batch renders", p95(busy), "ms", 20,
                   f"home page by the test client every 20 ms while the same batch renders in its child "
                   f"({len(busy)} requests; {spread(busy)}); idle p95 {p95(idle):.1f} ms, "
                   f"{os.cpu_count()} cores, {sys.platform}")]
