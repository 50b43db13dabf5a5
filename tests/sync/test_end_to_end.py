"""End to end with real processes (issue 6, part 6): a hub served over HTTP on 127.0.0.1 by
waitress (PostgreSQL when WORKSHOPS_TEST_POSTGRES_URL is set, else a SQLite file), two laptop
installations with their own SQLite files and instance folders, every step through the `flask`
commands a person would type: migrate, seed, create the devices on the hub, connect the laptops
with their pairing codes, create and edit households, `flask sync run` until both converge."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from tests.sync import harness
from tests.sync.conftest import HUB_SECRET, make_app
from workshops.auth.models import Structure
from workshops.extensions import db
from workshops.families.models import Family, Guardian
from workshops.sync.models import SyncState

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 90
STRUCTURE_KIND = "france_services"

# Run in a laptop's environment: households made through the app's own services, committed.
CREATE = """
import sys, uuid
from wsgi import app
from workshops.auth.models import User
from workshops.sync.models import SyncState
from workshops.extensions import db
from workshops.families.services import ChildData, FamilyData, GuardianData, create_family
with app.app_context():
    structure_id = db.session.get(SyncState, 1).structure_id
    actor = User(id=uuid.uuid4(), username="e2e", display_name="E2E", role="admin", structure_id=structure_id)
    for number in range(int(sys.argv[2])):
        create_family(db.session, FamilyData(
            guardians=(GuardianData(first_name="Prenom", last_name=f"{sys.argv[1]}{'abcdefghij'[number]}",
                                    phone=f"06123456{number:02d}"),),
            children=(ChildData(first_name="Enfant", level="6e"),), commune="Ussel",
            notes=f"made on {sys.argv[1]}", structure_id=structure_id), actor)
    db.session.commit()
"""
EDIT = """
import sys
from sqlalchemy import select
from wsgi import app
from workshops.extensions import db
from workshops.families.models import Family, Guardian
with app.app_context():
    guardian = db.session.scalars(select(Guardian).where(Guardian.last_name == sys.argv[1])).one()
    family = db.session.get(Family, guardian.family_id)
    setattr(family, sys.argv[2], sys.argv[3])
    db.session.commit()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def flask(env: dict, *args: str) -> str:
    """`python -m flask ARGS` in that installation's environment; its stdout (fails on exit != 0)."""
    done = subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, f"flask {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout


def python(env: dict, code: str, *args: str) -> None:
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def wait_until_listening(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the hub server exited with {process.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                response.read()
                return
        except urllib.error.HTTPError as error:
            error.close()
            return  # it answers (401 without a token)
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    pytest.fail(f"the hub did not answer at {url} within {timeout} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def hub_database(tmp_path: Path) -> str:
    url = os.environ.get("WORKSHOPS_TEST_POSTGRES_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'hub.sqlite'}"
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    return url


def environment(tmp_path: Path, name: str, **values: str) -> dict:
    instance = tmp_path / f"{name}-instance"
    instance.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("WORKSHOPS_")}
    return {**env, "WORKSHOPS_INSTANCE_PATH": str(instance), "FLASK_APP": "wsgi", "PYTHONPATH": str(ROOT),
            **values}


def test_two_laptop_processes_and_a_served_hub_converge(tmp_path, monkeypatch):
    hub_url = hub_database(tmp_path)
    hub_env = environment(tmp_path, "hub", WORKSHOPS_ROLE="hub", WORKSHOPS_DATABASE_URL=hub_url,
                          WORKSHOPS_SECRET_KEY=HUB_SECRET)
    flask(hub_env, "db", "upgrade")
    flask(hub_env, "seed", "reference")
    hub_app = make_app(hub_url, hub_env["WORKSHOPS_INSTANCE_PATH"], monkeypatch, ROLE="hub")
    with hub_app.app_context():
        structure = db.session.scalars(select(Structure).where(Structure.kind != "college")
                                       .order_by(Structure.name)).first()
        structure_name, structure_id = structure.name, structure.id
    codes = {}
    for name in ("a", "b"):
        out = flask(hub_env, "sync", "device", "create", f"Laptop {name}", "--structure", structure_name)
        codes[name] = re.search(r"Pairing code: (\S+)", out).group(1)

    port = free_port()
    log_path = tmp_path / "hub-server.log"
    with log_path.open("wb") as server_log:
        server = subprocess.Popen([sys.executable, "-m", "waitress", "--listen", f"127.0.0.1:{port}",
                                   "--threads", "4", "wsgi:app"], cwd=ROOT, env=hub_env,
                                  stdout=server_log, stderr=subprocess.STDOUT)
    laptops = {}
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_listening(f"{base}/api/sync/pull", server)
        for name in ("a", "b"):
            env = environment(tmp_path, name, WORKSHOPS_ROLE="laptop")
            flask(env, "db", "upgrade")
            flask(env, "seed", "reference")
            assert "Connected to" in flask(env, "sync", "connect", base, codes[name])
            laptops[name] = env
        python(laptops["a"], CREATE, "Martin", "3")
        python(laptops["b"], CREATE, "Diallo", "2")
        for name in ("a", "b", "a"):
            assert "Synced" in flask(laptops[name], "sync", "run")
        # Both edit the same household, different fields: both values must survive.
        python(laptops["a"], EDIT, "Diallob", "notes", "edited on a")
        python(laptops["b"], EDIT, "Diallob", "commune", "Egletons")
        python(laptops["b"], EDIT, "Martina", "notes", "edited on b")
        for name in ("a", "b", "a"):
            assert "Synced" in flask(laptops[name], "sync", "run")
        for name in ("a", "b"):
            status = json.loads(flask(laptops[name], "sync", "status", "--json"))
            assert status["last_success"] and not status["last_error"], status
            left = (status["pending_changes"], status["unacked_batches"], status["rejected_changes"])
            assert left == (0, 0, 0), status
    finally:
        stop(server)
    assert "Traceback" not in log_path.read_text(encoding="utf-8", errors="replace")

    laptop_apps = {}
    for name, env in laptops.items():
        app = make_app(f"sqlite:///{Path(env['WORKSHOPS_INSTANCE_PATH']) / 'workshops.sqlite'}",
                       env["WORKSHOPS_INSTANCE_PATH"], monkeypatch, ROLE="laptop")
        with app.app_context():
            device_id = db.session.get(SyncState, 1).device_id
        laptop_apps[name] = harness.Laptop(name, app, structure_id, device_id)
    cluster = harness.Cluster(hub_app, laptop_apps, {})
    try:
        for where in ("hub", "a", "b"):
            with cluster.app(where).app_context():
                families = {g.last_name: db.session.get(Family, g.family_id)
                            for g in db.session.scalars(select(Guardian))}
                assert sorted(families) == ["Dialloa", "Diallob", "Martina", "Martinb", "Martinc"], where
                assert (families["Diallob"].notes, families["Diallob"].commune) == ("edited on a", "Egletons")
                assert families["Martina"].notes == "edited on b"
                assert isinstance(families["Martina"].id, uuid.UUID)
        problems = harness.check_i1(cluster) + harness.check_i3(cluster) + harness.check_i4(cluster)
        assert not problems, "\n".join(problems)
    finally:
        cluster.close()
