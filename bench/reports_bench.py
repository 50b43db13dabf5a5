"""Reports on the volume data (issue 7, part 6): the dashboard's p95 and a year's exports.

Used by bench/run.py (`measure_reports`), or alone: `.venv/bin/python bench/reports_bench.py`.
"""

from __future__ import annotations

import secrets
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import volume

from workshops import create_app
from workshops.auth.queries import get_user_by_username
from workshops.core.models import utcnow
from workshops.extensions import db
from workshops.reports.exports import export
from workshops.reports.forms import EXPORT_KINDS
from workshops.reports.queries import Filters
from workshops.scheduling.localtime import local_today
from workshops.seed.demo import DEMO_PASSPHRASE

WARMUP, REQUESTS = 30, 300
DASHBOARD_BUDGET_MS, EXPORT_BUDGET_S = 150, 5


def _p95(durations: list[float]) -> float:
    return statistics.quantiles(durations, n=100)[94]


def _dashboard(client) -> list[float]:
    for _ in range(WARMUP):
        client.get("/rapports")
    durations = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = client.get("/rapports")
        durations.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, f"/rapports answered {response.status_code}"
    return durations


def _year_exports(app) -> tuple[float, dict[str, float]]:
    """Seconds for the XLSX exports of every kind (the four tables, La Coop's activity reports and
    beneficiaries workbook) of the last twelve months as the manager."""
    seconds = {}
    with app.test_request_context():
        user = get_user_by_username(db.session, volume.MANAGER)
        now = utcnow()
        today = local_today(now)
        period = Filters(today - timedelta(days=365), today)
        for kind in EXPORT_KINDS:
            started = time.perf_counter()
            body, _, _ = export(kind, "xlsx", db.session, user, period, now, today)
            seconds[kind] = time.perf_counter() - started
            assert body.startswith(b"PK")
    return sum(seconds.values()), seconds


def report_metrics(bench, result, logged_in_client) -> list:
    """Dashboard p95 as the manager (every structure) and a year's exports, on the volume data."""
    name = "reports"
    app = create_app(bench.volume_config(name))
    try:
        client = logged_in_client(app, volume.MANAGER, DEMO_PASSPHRASE)
        durations = _dashboard(client)
        total, seconds = _year_exports(app)
    finally:
        with app.app_context():
            db.engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            (bench.folder / f"{name}.sqlite{suffix}").unlink(missing_ok=True)
    each = ", ".join(f"{kind} {value:.2f} s" for kind, value in seconds.items())
    return [
        result("reports dashboard p95 (manager), volume", _p95(durations), "ms", DASHBOARD_BUDGET_MS,
               f"volume data; demo-manager, last twelve months, no filter; test client, {REQUESTS} "
               f"GET /rapports after {WARMUP} warm-up; median {statistics.median(durations):.1f} ms"),
        result(f"year of exports ({len(seconds)} XLSX), volume", total, "s", EXPORT_BUDGET_S,
               f"volume data; ateliers, attendance, handovers, indicators, La Coop activity reports "
               f"(cra) and beneficiaries of the last 365 days as XLSX, in-process, one after the "
               f"other ({each})"),
    ]


def _main() -> int:
    """Run the two metrics on their own and print them."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    with tempfile.TemporaryDirectory() as folder:

        class Bench:
            def volume_config(self, name):
                copy = volume.volume_copy(Path(folder) / f"{name}.sqlite")
                return {"SECRET_KEY": secrets.token_hex(16), "DATABASE_URL": f"sqlite:///{copy}"}

        Bench.folder = Path(folder)
        rows = report_metrics(Bench(), _Row, _login)
    for row in rows:
        print(f"{row.metric}: {row.value:.3g} {row.unit} (budget {row.budget}) - {row.how}")
    return 0 if all(row.value <= row.budget for row in rows) else 1


class _Row:
    def __init__(self, metric, value, unit, budget, how=""):
        self.metric, self.value, self.unit, self.budget, self.how = metric, value, unit, budget, how


def _login(app, username, password):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token"', 1)[1].split('value="', 1)[1].split('"', 1)[0]
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, "login failed"
    return client


if __name__ == "__main__":
    sys.exit(_main())
