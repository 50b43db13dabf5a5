"""Print everything for this atelier: the attendance sheet, then each family's password
notebook and guide in its language, as one PDF, rendered OUTSIDE the web process.

The web process starts `python -m flask print batch ATELIER --out -` (printing/cli.py) with
the app's configuration in WORKSHOPS_* variables; the child renders, says "12/40" on stderr
after each document and writes the PDF to stdout. A thread of the web process reads both
pipes into a `Job` kept in memory for the user who asked, until they download it once. The
PDF (it holds notebooks) is never written to disk, and the web process spends no CPU on
WeasyPrint, so pages stay responsive meanwhile (research note, (b) 12).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from workshops.families.models import Family
from workshops.families.registration_queries import PLACE_STATUSES, sheet_order_roster
from workshops.printing import pdf
from workshops.printing.documents import sheet_document
from workshops.printing.notebooks import guide_document, notebook_document
from workshops.scheduling.models import Workshop

ROOT = Path(__file__).resolve().parents[2]
# The settings a batch child needs to open the same data and print the same way.
CHILD_CONFIG = ("ROLE", "DEMO", "SECRET_KEY", "DATABASE_URL", "SQLITE_BUSY_TIMEOUT_MS",
                "BABEL_DEFAULT_LOCALE", "BABEL_DEFAULT_TIMEZONE", "LANGUAGES", "HELPLINE_PHONE",
                "PRINT_BLANK_ROWS", "PRINT_FUNDING")
PROGRESS = re.compile(rb"^(\d+)/(\d+)$")
# Documents rendered together before their PDF is joined to the batch's.
CHUNK = 12
# A finished batch waits this long for its download, then is forgotten.
KEEP_SECONDS = 30 * 60
# A child still running after this long is stopped (the batch then says it failed).
CHILD_LIMIT_SECONDS = 15 * 60

log = logging.getLogger(__name__)


# ---------- What the batch holds ----------

def batch_families(db: Session, workshop: Workshop) -> list[Family]:
    """The families holding a place at the atelier (registered or present), in the sheet's
    order."""
    ids = [row.family_id for row in sheet_order_roster(db, workshop) if row.status in PLACE_STATUSES]
    found = {family.id: family for family in db.scalars(
        select(Family).where(Family.id.in_(ids)).options(selectinload(Family.guardians)))}
    return [found[family_id] for family_id in ids if family_id in found]


def batch_documents(db: Session, workshop: Workshop) -> list[pdf.Document]:
    """The sheet, then for each family its notebook and its guide, in the family's language."""
    documents = [sheet_document(db, workshop)]
    for family in batch_families(db, workshop):
        language = pdf.family_language(family)
        documents.append(notebook_document(db, family, workshop=workshop, language=language))
        documents.append(guide_document(db, family, workshop, language=language))
    return documents


def render_in_chunks(documents: list[pdf.Document], progress: Callable[[int, int], None] | None = None,
                     chunk: int = CHUNK) -> pdf.Rendered:
    """Like pdf.render_all, but joins the PDFs of groups of `chunk` documents, so that the
    layout of at most one group is held in memory (a 200-page batch stays well under 300 MB;
    fonts are embedded once per group). The groups share their layouts: the notebook and guide
    of every family printed in one language are the same document, laid out once."""
    total, writer, warnings, pages, layouts = len(documents), PdfWriter(), [], 0, pdf.Layouts()
    for start in range(0, total, chunk):
        def step(done: int, _total: int, start: int = start) -> None:
            if progress is not None:
                progress(start + done, total)

        part = pdf.render_all(documents[start:start + chunk], progress=step, layouts=layouts)
        warnings += part.warnings
        pages += part.pages
        writer.append(PdfReader(io.BytesIO(part.pdf)))
    joined = io.BytesIO()
    if pages:
        writer.write(joined)
    return pdf.Rendered(pdf=joined.getvalue(), pages=pages, warnings=warnings)


def batch_filename(workshop: Workshop) -> str:
    """A file name without personal data."""
    return f"atelier-{workshop.start_dt:%Y-%m-%d}-tout.pdf"


# ---------- The child process, seen from the web process ----------

def child_command(workshop_id: uuid.UUID) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "workshops", "print", "batch", str(workshop_id),
            "--out", "-"]


def child_environment(config, instance_path: str) -> dict[str, str]:
    """The environment of a batch child: this one, plus the app's settings it needs."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("WORKSHOPS_")}
    env.update({f"WORKSHOPS_{key}": json.dumps(config[key]) for key in CHILD_CONFIG if key in config})
    env["WORKSHOPS_INSTANCE_PATH"] = instance_path
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Job:
    """One batch, for one user and one atelier, while it renders and until downloaded."""

    user_id: uuid.UUID
    workshop_id: uuid.UUID
    filename: str
    done: int = 0
    total: int = 0
    state: str = "running"  # running, done, failed
    pdf: bytes = b""
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    def as_json(self) -> dict:
        return {"state": self.state, "done": self.done, "total": self.total}


_jobs: dict[tuple[uuid.UUID, uuid.UUID], Job] = {}
_lock = threading.Lock()


def _forget_old(now: float) -> None:
    for key, job in list(_jobs.items()):
        if job.finished is not None and now - job.finished > KEEP_SECONDS:
            del _jobs[key]


def job_of(user_id: uuid.UUID, workshop_id: uuid.UUID) -> Job | None:
    with _lock:
        _forget_old(time.monotonic())
        return _jobs.get((user_id, workshop_id))


def take_pdf(user_id: uuid.UUID, workshop_id: uuid.UUID) -> Job | None:
    """The finished job, removed: a batch is downloaded once. None when not ready."""
    with _lock:
        job = _jobs.get((user_id, workshop_id))
        if job is None or job.state != "done":
            return None
        return _jobs.pop((user_id, workshop_id))


def start(user_id: uuid.UUID, workshop: Workshop, config, instance_path: str) -> Job:
    """Start the batch of this atelier for this user; a batch already running is kept."""
    key = (user_id, workshop.id)
    with _lock:
        _forget_old(time.monotonic())
        job = _jobs.get(key)
        if job is not None and job.state == "running":
            return job
        job = _jobs[key] = Job(user_id=user_id, workshop_id=workshop.id, filename=batch_filename(workshop))
    process = subprocess.Popen(child_command(workshop.id), cwd=ROOT,
                               env=child_environment(config, instance_path), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    threading.Thread(target=_follow, args=(job, process), name="print-batch", daemon=True).start()
    return job


def _read_progress(job: Job, stream) -> None:
    for line in stream:
        match = PROGRESS.match(line.strip())
        if match:
            job.done, job.total = int(match[1]), int(match[2])
        elif line.strip():
            log.warning("printing: the batch child said something on stderr (%d bytes)", len(line))


def _follow(job: Job, process: subprocess.Popen) -> None:
    """Read the child's progress and PDF into the job (a thread of the web process)."""
    reader = threading.Thread(target=_read_progress, args=(job, process.stderr), daemon=True)
    reader.start()
    watchdog = threading.Timer(CHILD_LIMIT_SECONDS, process.kill)
    watchdog.daemon = True
    watchdog.start()
    data = process.stdout.read()
    process.wait()
    watchdog.cancel()
    reader.join()
    process.stdout.close()
    process.stderr.close()
    with _lock:
        ok = process.returncode == 0 and data.startswith(b"%PDF")
        job.pdf, job.state = (data, "done") if ok else (b"", "failed")
        job.finished = time.monotonic()
    if not ok:
        log.error("printing: the batch child ended with status %s", process.returncode)
