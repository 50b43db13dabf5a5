"""Sync metrics of issue 6, part 7 (run.py calls them; see README "Add a metric"): a laptop's
first sync of 50,000 rows to a hub served over HTTP on loopback, an incremental sync of 500
changes, and the laptop's peak RSS during the first sync.

The hub is `waitress` in a subprocess serving `wsgi:app` with WORKSHOPS_ROLE=hub, on
PostgreSQL when WORKSHOPS_BENCH_POSTGRES_URL is set (its public schema is dropped and made
again by the migrations: give it a database of its own), else on a SQLite file. The laptop is
a fresh SQLite installation connected with `flask sync connect`; its rows are written in bulk
through the ORM (untimed: the change tracking fills sync_pending as for any edit). The first
sync is `flask sync run` in a subprocess, timed from spawn to exit (start-up included) while
its RSS is sampled every 10 ms; the 500 changes are synced in-process by `client.run` over
HTTP, as the laptop's Sync button does, so that the 2 s budget is not spent importing the app.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
from flask_migrate import upgrade
from sqlalchemy import create_engine, select, text

from workshops import create_app
from workshops.auth.models import Structure
from workshops.core.models import derived_id
from workshops.extensions import db
from workshops.families.models import Child, Family, Guardian, Registration
from workshops.scheduling.models import Venue, Workshop
from workshops.seed.reference import load_reference
from workshops.sync import client
from workshops.sync.models import ChangeLog, SyncState
from workshops.sync.transport import HttpTransport

ROOT = Path(__file__).resolve().parent.parent
# x (family, guardian, child, registration) = 50,000 rows, + 50 ateliers
FAMILIES = int(os.environ.get("WORKSHOPS_BENCH_SYNC_FAMILIES", "12500"))
WORKSHOPS = 50
CHANGES = 500
POUCHDB = ("PouchDB to a PouchDB server on loopback: 50,000 docs in about 11 s (4,500 docs/s), "
           "500 changes in 0.12 s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def hub_database(folder: Path) -> tuple[str, str]:
    """(URL, label) of the hub's database, emptied."""
    url = os.environ.get("WORKSHOPS_BENCH_POSTGRES_URL")
    if not url:
        return f"sqlite:///{folder / 'hub.sqlite'}", "SQLite file"
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
            version = connection.execute(text("SHOW server_version")).scalar()
    finally:
        engine.dispose()
    return url, f"PostgreSQL {version.split()[0]}"


def environment(folder: Path, name: str, **values: str) -> dict[str, str]:
    instance = folder / f"{name}-instance"
    instance.mkdir(exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("WORKSHOPS_")}
    return {**env, "WORKSHOPS_INSTANCE_PATH": str(instance), "FLASK_APP": "wsgi", **values}


def flask(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} exited {done.returncode}: {done.stderr[-1500:]}")
    return done.stdout


def prepare_hub(url: str, env: dict[str, str]) -> tuple[str, str]:
    """Migrated, reference data, one device: (structure name, pairing code)."""
    app = create_app({"ROLE": "hub", "DATABASE_URL": url, "SECRET_KEY": env["WORKSHOPS_SECRET_KEY"]})
    with app.app_context():
        upgrade()
        load_reference(db.session)
        db.session.commit()
        structure = db.session.scalars(select(Structure).where(Structure.kind != "college")
                                       .order_by(Structure.name)).first()
        name = structure.name
        db.session.remove()
        db.engine.dispose()
    out = flask(env, "sync", "device", "create", "Bench laptop", "--structure", name)
    return name, re.search(r"Pairing code: (\S+)", out).group(1)


def start_hub(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    with log.open("wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "waitress", "--listen", f"127.0.0.1:{port}",
                                    "--threads", "4", "wsgi:app"], cwd=ROOT, env=env,
                                   stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the hub exited with {process.returncode}: {log.read_text()[-1500:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/sync/pull", timeout=2) as answer:  # noqa: S310
                answer.read()
                return process
        except urllib.error.HTTPError as error:
            error.close()
            return process
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    process.terminate()
    process.wait(timeout=15)
    raise RuntimeError("the hub did not answer within 60 s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def laptop_app(env: dict[str, str], secret: str):
    return create_app({"ROLE": "laptop", "DATABASE_URL": env["WORKSHOPS_DATABASE_URL"], "SECRET_KEY": secret})


def fill_laptop(app) -> int:
    """The laptop's households, ateliers and registrations, written in bulk (untimed); the
    number of synced rows written."""
    with app.app_context():
        state = db.session.get(SyncState, 1)
        venue = db.session.scalars(select(Venue).order_by(Venue.name)).first()
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
        workshops = [Workshop(id=uuid.uuid4(), title=f"Atelier {number}",
                              start_dt=start + timedelta(days=number),
                              end_dt=start + timedelta(days=number, hours=2), venue_id=venue.id,
                              structure_id=state.structure_id) for number in range(WORKSHOPS)]
        db.session.add_all(workshops)
        db.session.commit()
        written = len(workshops)
        chunk = 2_500
        for first in range(0, FAMILIES, chunk):
            rows = []
            for number in range(first, min(first + chunk, FAMILIES)):
                family = Family(id=uuid.uuid4(), structure_id=state.structure_id,
                                commune="Brive-la-Gaillarde", notes="Rencontrée au forum",
                                search_key=f"famille {number} prenom")
                workshop = workshops[number % WORKSHOPS]
                rows += [family,
                         Guardian(id=uuid.uuid4(), family_id=family.id, first_name="Prénom",
                                  last_name=f"Famille-{number}", phone=f"+3361{number:07d}", language="fr"),
                         Child(id=uuid.uuid4(), family_id=family.id, first_name="Enfant", level="5e"),
                         Registration(id=derived_id("registration", workshop.id, family.id),
                                      workshop_id=workshop.id, family_id=family.id, status="registered")]
            db.session.add_all(rows)
            db.session.commit()
            written += len(rows)
        db.session.remove()
        db.engine.dispose()
    return written


def run_sync_process(env: dict[str, str]) -> tuple[float, float, str]:
    """`flask sync run` in a subprocess: (seconds from spawn to exit, peak RSS in MB, its output)."""
    out_path = Path(env["WORKSHOPS_INSTANCE_PATH"]) / "sync-run.log"
    started = time.perf_counter()
    with out_path.open("wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "flask", "sync", "run"], cwd=ROOT, env=env,
                                   stdout=output, stderr=subprocess.STDOUT)
    watched, peak = psutil.Process(process.pid), 0.0
    while process.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss / 2**20)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    output = out_path.read_text(encoding="utf-8", errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"flask sync run exited {process.returncode}: {output[-1500:]}")
    return elapsed, peak, output


def startup_seconds(env: dict[str, str]) -> float:
    """What a `flask` command costs before it does anything (`flask sync status --json`)."""
    started = time.perf_counter()
    flask(env, "sync", "status", "--json")
    return time.perf_counter() - started


def incremental(app, hub: str) -> tuple[float, int, object]:
    """Edit CHANGES households (untimed), then time client.run over HTTP in this process."""
    with app.app_context():
        families = db.session.scalars(select(Family).order_by(Family.id).limit(CHANGES)).all()
        for number, family in enumerate(families):
            family.notes = f"Revue le {number}"
        db.session.commit()
        state = db.session.get(SyncState, 1)
        transport = HttpTransport(hub, state.token)
        db.session.rollback()
        started = time.perf_counter()
        result = client.run(db.session, transport)
        elapsed = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    return elapsed, len(families), result


def hub_rows(url: str, secret: str) -> int:
    app = create_app({"ROLE": "hub", "DATABASE_URL": url, "SECRET_KEY": secret})
    with app.app_context():
        count = db.session.scalar(select(ChangeLog.seq).order_by(ChangeLog.seq.desc()).limit(1)) or 0
        db.session.remove()
        db.engine.dispose()
    return count


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def sync_metrics(bench, result) -> list:
    folder = bench.folder / "sync"
    folder.mkdir(exist_ok=True)
    url, label = hub_database(folder)
    hub_env = environment(folder, "hub", WORKSHOPS_ROLE="hub", WORKSHOPS_DATABASE_URL=url,
                          WORKSHOPS_SECRET_KEY=bench.secret_key)
    _structure, code = prepare_hub(url, hub_env)
    port = free_port()
    hub = f"http://127.0.0.1:{port}"
    server = start_hub(hub_env, port, folder / "hub.log")
    try:
        laptop_env = environment(folder, "laptop", WORKSHOPS_ROLE="laptop",
                                 WORKSHOPS_DATABASE_URL=f"sqlite:///{folder / 'laptop.sqlite'}")
        laptop = laptop_app(laptop_env, bench.secret_key)
        with laptop.app_context():
            upgrade()
            load_reference(db.session)
            db.session.commit()
            db.session.remove()
            db.engine.dispose()
        flask(laptop_env, "sync", "connect", hub, code)
        rows = fill_laptop(laptop)
        load_before = load_average()
        first_s, peak_mb, output = run_sync_process(laptop_env)
        load_after = load_average()
        startup = startup_seconds(laptop_env)
        hub_rss = psutil.Process(server.pid).memory_info().rss / 2**20
        changes_s, changed, answer = incremental(laptop, hub)
        logged = hub_rows(url, bench.secret_key)
    finally:
        stop(server)
    if not answer.ok:
        raise RuntimeError(f"the incremental sync failed: {answer}")
    synced = output.strip().splitlines()[-1] if output.strip() else ""
    return [
        result(f"sync first {rows:,} rows (laptop to hub, HTTP)", first_s, "s", 60,
               f"`flask sync run` subprocess, spawn to exit ({startup:.1f} s of it is the command's "
               f"start-up), {rows / first_s:,.0f} rows/s ({rows / max(first_s - startup, 0.001):,.0f} "
               f"rows/s without start-up); pushed then pulled back (the laptop's own changes return); "
               f"hub: waitress 4 threads on {label}, "
               f"{logged:,} change_log entries after the run; {POUCHDB}; '{synced}'; "
               f"load average {load_before} before, {load_after} after"),
        result(f"sync {changed} changes (incremental)", changes_s, "s", 2,
               f"{changed} households edited, then client.run over HTTP in-process (hello, freeze, push, "
               f"pull back), {changed / changes_s:,.0f} changes/s; sent {answer.sent}, received "
               f"{answer.received}, {answer.pages} page(s); PouchDB 0.12 s for 500"),
        result("sync laptop peak RSS", peak_mb, "MB", 200,
               f"RSS of the `flask sync run` subprocess of the first sync, sampled every 10 ms, maximum; "
               f"hub server RSS after it {hub_rss:.0f} MB"),
    ]
