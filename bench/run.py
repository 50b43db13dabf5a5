"""Benchmark harness: measure each metric against its budget (design.md section 9).

Run with `make bench` (or `.venv/bin/python bench/run.py [METRIC ...]`). Prints a
table and writes bench/results.json. A metric is a function in METRICS that takes
the prepared Workbench and returns Result rows; add new ones at the end.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import platform
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
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil
from flask_migrate import upgrade

from workshops import create_app
from workshops.auth.services import NewUser, create_user
from workshops.extensions import db

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
USERNAME = "bench"
PASSWORD = "une phrase de passe pour mesurer"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


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
        return {"SECRET_KEY": self.secret_key, "DATABASE_URL": self.database_url}

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

def logged_in_client(app):
    client = app.test_client()
    token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"csrf_token": token, "username": USERNAME,
                                           "password": PASSWORD})
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


# Later issues add PDF and sync metrics here.
METRICS: list[Callable[[Workbench], list[Result]]] = [
    measure_cold_start,
    measure_home_page,
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
