"""Benchmark harness: measure each metric against its budget (design.md section 9).

Run with `make bench` (or `.venv/bin/python bench/run.py [METRIC ...]`). Prints a
table and writes bench/results.json. A metric is a function in METRICS that takes
the prepared Workbench and returns Result rows; add new ones at the end.
"""

from __future__ import annotations

import argparse
import gc
import html.parser
import http.cookiejar
import json
import os
import platform
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import collegelist
import printing_bench
import psutil
import reports_bench
import sync_bench
import volume
from flask_migrate import upgrade
from sqlalchemy import func, select

from workshops import create_app
from workshops.auth import queries as auth_queries
from workshops.auth.services import NewUser, create_user
from workshops.core.db import begin_write
from workshops.core.models import utcnow
from workshops.extensions import db
from workshops.families import import_rows, import_services, importers, registration_services
from workshops.families.models import Family, Guardian, Registration
from workshops.families.normalize import fold
from workshops.scheduling.models import Workshop
from workshops.seed.demo import DEMO_PASSPHRASE

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
USERNAME = "bench"
PASSWORD = "une phrase de passe pour mesurer"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


# The laptop's background work, off for in-process measurements (`flask serve` keeps it).
QUIET = {"BACKUP_AUTO": False, "DISK_CHECK": False}

@dataclass
class Result:
    metric: str
    value: float
    unit: str
    budget: float
    how: str = ""  # how it was measured, in a few words
    ok: bool = False  # filled from value <= budget

    def __post_init__(self) -> None:
        self.ok = self.value <= self.budget


@dataclass
class Workbench:
    """What every metric starts from: a migrated SQLite file with one account."""

    folder: Path
    database_url: str
    secret_key: str

    def app_config(self) -> dict:
        # In-process apps measure pages and documents: no daily backup thread, no disk check.
        return {"SECRET_KEY": self.secret_key, "DATABASE_URL": self.database_url, **QUIET}

    def volume_config(self, name: str) -> dict:
        """App config on a fresh copy of the volume data (bench/volume.py), named `name`."""
        copy = volume.volume_copy(self.folder / f"{name}.sqlite")
        return {"SECRET_KEY": self.secret_key, "DATABASE_URL": f"sqlite:///{copy}", **QUIET}

    def server_env(self) -> dict[str, str]:
        """Environment for `flask serve` in a subprocess, on this workbench's data."""
        return {**os.environ, "WORKSHOPS_DATABASE_URL": self.database_url,
                "WORKSHOPS_SECRET_KEY": self.secret_key,
                "WORKSHOPS_INSTANCE_PATH": str(self.folder / "instance")}


def prepare(folder: Path) -> Workbench:
    """Migrate a fresh database in `folder` and create the bench account."""
    bench = Workbench(folder, f"sqlite:///{folder / 'bench.sqlite'}", f"bench-{secrets.token_hex(16)}")
    app = create_app(bench.app_config())
    with app.app_context():
        upgrade()
        create_user(db.session, NewUser(username=USERNAME, display_name="Bench Mark",
                                        password=PASSWORD, role="admin"))
        db.session.commit()
        db.engine.dispose()
    return bench


# -- Web: cold start and idle memory of `flask serve` ------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_200(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"flask serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.005)
    raise TimeoutError(f"{url} did not answer 200 within {timeout} s")


def browse_first_pages(base: str) -> None:
    """Log in through the form and open the home page, as a user's first minute."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(f"{base}/login") as response:
        token = CSRF.search(response.read().decode()).group(1)
    form = urllib.parse.urlencode({"csrf_token": token, "username": USERNAME, "password": PASSWORD})
    with opener.open(f"{base}/login", data=form.encode()) as response:
        assert response.url == f"{base}/", f"login failed, landed on {response.url}"
    for _ in range(5):
        with opener.open(f"{base}/") as response:
            response.read()


def rss_mb(pid: int) -> float:
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20


def start_server(bench: Workbench, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "flask", "serve", "--port", str(port)]
    return subprocess.Popen(command, cwd=ROOT, env=bench.server_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    process.stderr.close()


def measure_cold_start(bench: Workbench, runs: int = 5) -> list[Result]:
    """Seconds from `flask serve` to the first 200 of /login (median), and idle RSS after first pages."""
    times, memory = [], []
    for _ in range(runs):
        port = free_port()
        started = time.perf_counter()
        process = start_server(bench, port)
        try:
            wait_for_200(f"http://127.0.0.1:{port}/login", process)
            times.append(time.perf_counter() - started)
            browse_first_pages(f"http://127.0.0.1:{port}")
            time.sleep(1)  # idle
            memory.append(rss_mb(process.pid))
        finally:
            stop_server(process)
    return [Result("cold start to first page", statistics.median(times), "s", 2,
                   f"flask serve until GET /login is 200, median of {runs}"),
            Result("idle RSS after first pages", max(memory), "MB", 150,
                   f"login + 6 pages then 1 s idle, worst of {runs}")]


# -- Web: in-process page times -----------------------------------------------

def logged_in_client(app, username: str = USERNAME, password: str = PASSWORD):
    client = app.test_client()
    token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"csrf_token": token, "username": username,
                                           "password": password})
    assert response.status_code == 302, "login failed"
    return client


def p95_ms(client, path: str, requests: int = 500, warmup: int = 50) -> float:
    for _ in range(warmup):
        client.get(path)
    durations = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        durations.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, f"{path} answered {response.status_code}"
    return statistics.quantiles(durations, n=100)[94]


def measure_home_page(bench: Workbench) -> list[Result]:
    """p95 of the home page for a logged-in user, through the Flask test client."""
    app = create_app(bench.app_config())
    client = logged_in_client(app)
    value = p95_ms(client, "/", requests=500)
    with app.app_context():
        db.engine.dispose()
    return [Result("home page p95, in-process", value, "ms", 25,
                   "logged-in test client, 500 GET / after 50 warm-up")]


# -- Volume data: atelier list, family search, check-in, import ---------------
# On a copy of the volume data of section 9 (bench/volume.py): 10,000 families,
# 2,000 ateliers, 50,000 registrations, all in the demo conseiller's structure.

WARMUP, REQUESTS = 50, 300


@contextmanager
def volume_app(bench: Workbench, name: str):
    """The app on a fresh copy of the volume data; its connections closed and the copy
    removed afterwards (each is about 45 MB)."""
    app = create_app(bench.volume_config(name))
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            (bench.folder / f"{name}.sqlite{suffix}").unlink(missing_ok=True)


def p95_of(durations: list[float]) -> float:
    return statistics.quantiles(durations, n=100)[94]


def spread(durations: list[float]) -> str:
    """The middle and the worst of a series, for the `how` of a p95."""
    return f"median {statistics.median(durations):.1f} ms, max {max(durations):.1f} ms"


def get_cycling(client, paths: list[str], requests: int = REQUESTS, warmup: int = WARMUP) -> list[float]:
    """Milliseconds of each GET going round `paths`; the warm-up takes the first ones."""
    for index in range(warmup):
        client.get(paths[index % len(paths)])
    durations = []
    for index in range(warmup, warmup + requests):
        path = paths[index % len(paths)]
        started = time.perf_counter()
        response = client.get(path)
        durations.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, f"{path} answered {response.status_code}"
    return durations


def search_prefixes(app) -> list[str]:
    """Three letters starting a word of the guardians' names, as typed at the door, in a
    fixed shuffled order: common ones ("mar") and rare ones ("bon") alike."""
    with app.app_context():
        names = db.session.execute(select(Guardian.last_name, Guardian.first_name)
                                   .where(Guardian.deleted_dt.is_(None))).all()
    prefixes = sorted({word[:3] for last, first in names for word in fold(f"{last} {first}").split()
                       if len(word) >= 3 and word[:3].isalpha()})
    random.Random(3).shuffle(prefixes)  # noqa: S311 (a fixed order, not a secret)
    return prefixes


def live_count(app, model) -> int:
    """Rows of `model` not removed (nor merged, for families) in the app's database."""
    with app.app_context():
        query = select(func.count()).select_from(model).where(model.deleted_dt.is_(None))
        if model is Family:
            query = query.where(Family.merged_into_id.is_(None))
        return db.session.scalar(query)


def typical_atelier(app) -> uuid.UUID:
    """The soonest of the upcoming ateliers with the most families listed (25 in the volume data)."""
    with app.app_context():
        count = func.count(Registration.id)
        return db.session.execute(
            select(Workshop.id).join(Registration, Registration.workshop_id == Workshop.id)
            .where(Workshop.end_dt >= utcnow(), Workshop.status != "cancelled",
                   Workshop.deleted_dt.is_(None), Registration.deleted_dt.is_(None))
            .group_by(Workshop.id).order_by(count.desc(), Workshop.start_dt).limit(1)).scalar_one()


def enlarge_atelier(app, families: int) -> uuid.UUID:
    """Register more families of the conseiller's structure to the soonest upcoming atelier
    (through the service, over-booking allowed) until it lists `families`; untimed setup."""
    workshop_id = typical_atelier(app)
    with app.app_context():
        begin_write(db.session)
        actor = auth_queries.get_user_by_username(db.session, volume.CONSEILLER)
        workshop = db.session.get(Workshop, workshop_id)
        listed = select(Registration.family_id).where(Registration.workshop_id == workshop_id)
        have = db.session.scalar(select(func.count()).select_from(listed.subquery()))
        more = db.session.scalars(select(Family).where(
            Family.structure_id == actor.structure_id, Family.deleted_dt.is_(None),
            Family.merged_into_id.is_(None), Family.id.not_in(listed))
            .order_by(Family.search_key).limit(max(0, families - have)))
        for family in more:
            registration_services.register_family(db.session, workshop, family, actor,
                                                  allow_overbooking=True)
        db.session.commit()
    return workshop_id


class PostForms(html.parser.HTMLParser):
    """The fields of every <form method="post"> of a page whose action is `action`."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.forms, self._current = action, [], None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form" and (attributes.get("method") or "").lower() == "post" \
                and attributes.get("action") == self.action:
            self._current = {}
        elif tag == "input" and self._current is not None and attributes.get("name"):
            self._current[attributes["name"]] = attributes.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._current is not None:
            self.forms.append(self._current)
            self._current = None


def listed(app, workshop_id: uuid.UUID) -> int:
    """Families on the atelier's list (registrations not removed)."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Registration).where(
            Registration.workshop_id == workshop_id, Registration.deleted_dt.is_(None)))


def measure_atelier_list(bench: Workbench) -> list[Result]:
    """p95 of GET /ateliers (upcoming, first page, counts) as a manager and as a conseiller."""
    results = []
    with volume_app(bench, "ateliers") as app:
        ateliers = live_count(app, Workshop)
        for username, who in ((volume.MANAGER, "manager"), (volume.CONSEILLER, "conseiller")):
            client = logged_in_client(app, username, DEMO_PASSPHRASE)
            durations = get_cycling(client, ["/ateliers"])
            results.append(Result(
                f"atelier list p95 ({who}), volume", p95_of(durations), "ms", 25,
                f"volume data; {who} seeing all {ateliers:,} ateliers (first page shown), test "
                f"client, {REQUESTS} GET /ateliers after {WARMUP} warm-up; {spread(durations)}"))
    return results


def measure_family_search(bench: Workbench) -> list[Result]:
    """p95 of the family search and of the check-in results fragment, three letters typed."""
    with volume_app(bench, "search") as app:
        prefixes = search_prefixes(app)
        workshop_id = typical_atelier(app)
        families, on_list = live_count(app, Family), listed(app, workshop_id)
        client = logged_in_client(app, volume.CONSEILLER, DEMO_PASSPHRASE)
        search = get_cycling(client, [f"/families?q={p}" for p in prefixes])
        fragment = get_cycling(client, [f"/ateliers/{workshop_id}/checkin/results?q={p}" for p in prefixes])
    varied = f"{len(prefixes)} different 3-letter name prefixes from the data, in turn"
    return [Result("family search p95, volume", p95_of(search), "ms", 25,
                   f"volume data; conseiller seeing {families:,} families, {REQUESTS} GET "
                   f"/families?q=... after {WARMUP} warm-up; {varied}; {spread(search)}"),
            Result("check-in results p95, volume", p95_of(fragment), "ms", 25,
                   f"volume data; conseiller, atelier listing {on_list} families, {REQUESTS} GET "
                   f"/ateliers/<id>/checkin/results?q=... after {WARMUP} warm-up; {varied}; "
                   f"{spread(fragment)}")]


def measure_checkin_page(bench: Workbench) -> list[Result]:
    """p95 of the check-in page of an atelier of the volume data (roster, counters)."""
    with volume_app(bench, "checkin-page") as app:
        workshop_id = typical_atelier(app)
        on_list = listed(app, workshop_id)
        client = logged_in_client(app, volume.CONSEILLER, DEMO_PASSPHRASE)
        durations = get_cycling(client, [f"/ateliers/{workshop_id}/checkin"])
    return [Result("check-in page p95, volume", p95_of(durations), "ms", 25,
                   f"volume data; conseiller, atelier listing {on_list} families, {REQUESTS} GET "
                   f"/ateliers/<id>/checkin after {WARMUP} warm-up; {spread(durations)}")]


def measure_checkin_post(bench: Workbench) -> list[Result]:
    """p95 of the one-tap check-in POST, each for a different family of a big atelier."""
    count = WARMUP + REQUESTS
    with volume_app(bench, "checkin") as app:
        workshop_id = enlarge_atelier(app, count)
        action = f"/ateliers/{workshop_id}/checkin/family"
        client = logged_in_client(app, volume.CONSEILLER, DEMO_PASSPHRASE)
        parser = PostForms(action)
        parser.feed(client.get(f"/ateliers/{workshop_id}/checkin").get_data(as_text=True))
        forms = [fields for fields in parser.forms if set(fields) == {"csrf_token", "family_id"}]
        assert len(forms) >= count, f"only {len(forms)} check-in buttons on the page"
        durations = []
        for index, fields in enumerate(forms[:count]):
            started = time.perf_counter()
            response = client.post(action, data=fields)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 302, f"check-in answered {response.status_code}"
            if index >= WARMUP:
                durations.append(elapsed)
        with app.app_context():
            present = db.session.scalar(select(func.count()).select_from(Registration).where(
                Registration.workshop_id == workshop_id, Registration.status == "attended"))
        assert present == count, f"{present} families present after {count} check-ins"
    return [Result("check-in POST p95, volume", p95_of(durations), "ms", 25,
                   f"volume data; conseiller, an upcoming atelier made to list {count} families "
                   f"(registered through the service before timing); the real check-in forms "
                   f"(csrf_token, family_id) read from its check-in page, CSRF left on; {WARMUP} "
                   f"warm-up then {REQUESTS} POSTs, each a different family's first check-in (302, "
                   f"redirect not followed), commit included; {spread(durations)}")]


def known_guardians(app, count: int = 200) -> list[tuple[str, str, str]]:
    """Guardians of the volume data that a collège's list may name again."""
    with app.app_context():
        rows = db.session.execute(select(Guardian.last_name, Guardian.first_name, Guardian.phone)
                                  .where(Guardian.deleted_dt.is_(None))
                                  .order_by(Guardian.last_name, Guardian.first_name, Guardian.phone)).all()
    return random.Random(7).sample([(last, first, phone or "") for last, first, phone in rows], count)  # noqa: S311


def import_once(app, data: bytes) -> tuple[float, float, importers.Preview, int]:
    """The screens' preview step, then their confirm step with the rows the preview ticks by
    default (the confirm step reads the file and builds the preview again, then writes in
    one transaction): seconds of each, the preview and how many families were written."""
    def step(included: set[int] | None = None):
        with app.test_request_context():
            if included is not None:
                begin_write(db.session)
            actor = auth_queries.get_user_by_username(db.session, volume.CONSEILLER)
            table = importers.read_table(data)
            assert table.problem is None, table.problem
            mapping, _remembered = importers.proposed_mapping(
                db.session, import_rows.KIND, table.headers, import_rows.FIELDS)
            assert not importers.mapping_problems(mapping, import_rows.FIELDS), mapping
            options = import_rows.FamilyImport(actor=actor, structure_id=actor.structure_id)
            preview = import_rows.preview_families(db.session, table, mapping, options)
            written = 0
            if included is not None:
                written = import_services.confirm_family_import(
                    db.session, preview, options, included_warnings=included).written
                db.session.commit()
            db.session.remove()
            return preview, written

    started = time.perf_counter()
    preview, _ = step()
    middle = time.perf_counter()
    _, written = step(ticked_by_default(preview))
    return middle - started, time.perf_counter() - middle, preview, written


def ticked_by_default(preview: importers.Preview) -> set[int]:
    """The warned lines the preview page ticks at first (all warned rows if it has no rule)."""
    if hasattr(preview, "default_included"):
        return set(preview.default_included())
    return {row.line for row in preview.rows if row.outcome == "warning"}


def measure_import(bench: Workbench, runs: int = 3) -> list[Result]:
    """Seconds to import 1,000 rows (preview plus confirm) into the volume data."""
    rows = 1000
    totals, previews, confirms = [], [], []
    for run in range(runs):
        with volume_app(bench, f"import-{run}") as app:
            data = collegelist.csv_bytes(rows, known_guardians(app))
            with app.app_context():
                before = db.session.scalar(select(func.count()).select_from(Family))
            gc.collect()
            preview_s, confirm_s, preview, written = import_once(app, data)
            with app.app_context():
                after = db.session.scalar(select(func.count()).select_from(Family))
        counts = preview.counts
        assert len(preview.rows) == rows and after - before == written \
            and written == counts["ok"] + len(ticked_by_default(preview)), (counts, written)
        totals.append(preview_s + confirm_s)
        previews.append(preview_s)
        confirms.append(confirm_s)
    return [Result(
        "import 1,000 rows (preview + confirm), volume", statistics.median(totals), "s", 3,
        f"volume data; {rows}-row cp1252 ';' collège list ({len(data) // 1024} KB; {counts['ok']} ok, "
        f"{counts['warning']} warned, {counts['refused']} refused) through importers.read_table, "
        f"import_rows.preview_families and import_services.confirm_family_import as the screens "
        f"call them, as the conseiller: preview step {statistics.median(previews):.2f} s + confirm "
        f"step {statistics.median(confirms):.2f} s (preview built again, {written} families written: "
        f"the ok rows and the warned rows ticked by default, one commit); median of {runs} runs, "
        f"each on a fresh copy (totals {min(totals):.2f} to {max(totals):.2f} s); pages not rendered")]


def measure_pdf_renders(bench: Workbench) -> list[Result]:
    """Sheet (40 families) and notebook: render p95 and the notebook's size."""
    return printing_bench.pdf_renders(bench, Result)


def measure_print_batch(bench: Workbench) -> list[Result]:
    """The 200-page batch in its child process (time, peak RSS), and page p95 meanwhile."""
    return printing_bench.print_batch(bench, Result, logged_in_client)


def measure_sync(bench: Workbench) -> list[Result]:
    """First sync of 50,000 rows over HTTP, 500 changes, the laptop's peak RSS (issue 6)."""
    return sync_bench.sync_metrics(bench, Result)


def measure_reports(bench: Workbench) -> list[Result]:
    """Reports dashboard p95 and a year's exports on the volume data (issue 7)."""
    return reports_bench.report_metrics(bench, Result, logged_in_client)


METRICS: list[Callable[[Workbench], list[Result]]] = [
    measure_cold_start,
    measure_home_page,
    measure_atelier_list,
    measure_family_search,
    measure_checkin_page,
    measure_checkin_post,
    measure_import,
    measure_pdf_renders,
    measure_print_batch,
    measure_sync,
    measure_reports,
]


# -- Harness -------------------------------------------------------------------

def machine() -> dict:
    return {"cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "date": datetime.now(UTC).isoformat(timespec="seconds")}


def print_table(results: list[Result]) -> None:
    rows = [("metric", "measured", "budget", "ok")] + [
        (r.metric, f"{r.value:.3g} {r.unit}", f"{r.budget:g} {r.unit}", "yes" if r.ok else "NO")
        for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for index, row in enumerate(rows):
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("-+-".join("-" * width for width in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = [metric.__name__ for metric in METRICS]
    parser.add_argument("metrics", nargs="*", metavar="METRIC",
                        help=f"metric functions to run, default all: {', '.join(names)}")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON results")
    args = parser.parse_args(argv)
    unknown = set(args.metrics) - set(names)
    if unknown:
        parser.error(f"unknown metric {', '.join(sorted(unknown))}; choose from {', '.join(names)}")
    chosen = [metric for metric in METRICS if not args.metrics or metric.__name__ in args.metrics]
    with tempfile.TemporaryDirectory(prefix="workshops-bench-") as tmp:
        bench = prepare(Path(tmp))
        results = [result for metric in chosen for result in metric(bench)]
    print_table(results)
    args.output.write_text(json.dumps(
        {"machine": machine(), "results": [asdict(r) for r in results]}, indent=2) + "\n",
        encoding="utf-8")
    print(f"\nResults written to {args.output}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
