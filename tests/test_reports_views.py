"""The reports page as a manager and a conseiller use it (issue 7, parts 1 to 4): the figures
counted by hand in tests/test_reports_queries.py, the charts with their tables, the
collection status on a laptop and on the hub, the download links."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import PASSWORD, make_test_app
from tests.login_helpers import log_in
from tests.test_reports_exports import read_csv
from tests.test_reports_queries import NOW, build_reports_world
from workshops.audit.models import AuditEntry
from workshops.auth import services as auth_services
from workshops.extensions import db as _db
from workshops.sync.models import Device

PERIOD_ARGS = {"date_from": "2026-01-01", "date_to": "2026-06-30"}


def _login(app, client, role, structure_id=None, username=None):
    with app.app_context():
        auth_services.create_user(_db.session, auth_services.NewUser(
            username=username or role + "-web", display_name=role.title(), password=PASSWORD, role=role,
            structure_id=structure_id))
        _db.session.commit()
    response = log_in(app, client, username or role + "-web")  # with a code on a hub
    assert response.status_code == 302


def counter(html: str, name: str) -> int:
    match = re.search(rf'id="count-{name}"><span class="counter__value">(\d+)<', html)
    assert match, name
    return int(match.group(1))


@pytest.fixture
def travel():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def world(app, travel):
    with app.app_context():
        return build_reports_world(_db.session)


def test_the_manager_sees_the_figures_counted_by_hand(app, client, world):
    _login(app, client, "manager")
    html = client.get("/rapports", query_string=PERIOD_ARGS).get_data(as_text=True)
    assert {name: counter(html, name) for name in ("ateliers", "families", "people", "structures", "given",
                                                   "lent", "stock", "overdue")} == {
        "ateliers": 4, "families": 4, "people": 17, "structures": 3, "given": 1, "lent": 1, "stock": 3,
        "overdue": 1}


def test_each_chart_is_an_svg_with_a_title_and_its_data_table(app, client, world):
    _login(app, client, "manager")
    html = client.get("/rapports", query_string=PERIOD_ARGS).get_data(as_text=True)
    assert '<title id="chart-months-title">Ateliers held per month</title>' in html
    assert '<title id="chart-epci-title">Parents reached per EPCI</title>' in html
    assert "<script" not in html.split("<main", 1)[1]
    months = html.split('id="months-data-table"', 1)[1].split("</table>", 1)[0]
    cells = re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", months)
    assert cells[2:] == ["Jan 26", "0", "Feb 26", "0", "Mar 26", "1", "Apr 26", "2", "May 26", "1",
                         "Jun 26", "0"]
    epci = html.split('id="epci-data-table"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", epci)[2:] == [
        "CU Grand Poitiers", "3", "CC du Civraisien en Poitou", "2"]


def test_filters_from_the_form_narrow_the_figures(app, client, world):
    _login(app, client, "manager")
    html = client.get("/rapports", query_string={**PERIOD_ARGS, "epci": str(world["civray"])}).get_data(
        as_text=True)
    assert (counter(html, "ateliers"), counter(html, "families")) == (2, 2)


def test_a_conseiller_sees_their_structure_only(app, client, world):
    _login(app, client, "conseiller", structure_id=world["home"])
    response = client.get("/rapports", query_string={**PERIOD_ARGS, "structure": str(world["other"])})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert (counter(html, "ateliers"), counter(html, "families")) == (3, 3)
    assert "La Poste" not in html.split('id="structure"', 1)[1].split("</select>", 1)[0]


def test_the_laptop_lists_ateliers_held_without_attendance(app, client, world):
    _login(app, client, "manager")
    html = client.get("/rapports", query_string=PERIOD_ARGS).get_data(as_text=True)
    assert "1 atelier has ended with nobody recorded present" in html
    assert f'/ateliers/{world["w5"]}">Sans feuille</a>' in html
    assert "Conflicts to review" not in html  # devices and conflicts live on the hub


def test_an_empty_period_says_what_to_do(app, client, travel):
    _login(app, client, "admin")
    html = client.get("/rapports").get_data(as_text=True)
    assert "No atelier held in this period with these filters" in html
    assert "No machine in the inventory yet" in html


def test_the_download_links_give_the_period_and_filters(app, client, world):
    _login(app, client, "manager")
    html = client.get("/rapports", query_string=PERIOD_ARGS).get_data(as_text=True)
    link = re.search(r'href="(/rapports/export\?kind=attendance&amp;format=csv[^"]*)"', html).group(1)
    response = client.get(link.replace("&amp;", "&"))
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="attendance-2026-01-01-2026-06-30.csv"'
    rows = read_csv(response.data)
    assert len(rows) == 5 and sum(int(row[4]) for row in rows[1:]) == 6
    with app.app_context():
        entry, = _db.session.scalars(select(AuditEntry).where(AuditEntry.action == "export"))
        assert (entry.object_ref, entry.details) == (
            "attendance", {"format": "csv", "from": "2026-01-01", "to": "2026-06-30"})


def test_the_dashboard_links_to_the_two_printed_reports_with_its_filters(app, client, world):
    _login(app, client, "manager")
    html = client.get("/rapports", query_string=PERIOD_ARGS).get_data(as_text=True)
    for path in ("/rapports/indicateurs.pdf", "/rapports/fiches-cra.pdf"):
        link = re.search(rf'href="({re.escape(path)}\?[^"]*)"', html).group(1).replace("&amp;", "&")
        assert "date_from=2026-01-01" in link and "date_to=2026-06-30" in link
        response = client.get(link)
        assert response.status_code == 200 and response.mimetype == "application/pdf", path


def test_an_unknown_export_is_not_found(app, client, travel):
    _login(app, client, "manager")
    assert client.get("/rapports/export", query_string={"kind": "families"}).status_code == 404
    assert client.get("/rapports/export", query_string={"format": "ods"}).status_code == 404


@pytest.fixture
def hub(tmp_path, monkeypatch):
    app = make_test_app(tmp_path, monkeypatch, "hub", ROLE="hub", WTF_CSRF_ENABLED=False,
                        BABEL_DEFAULT_LOCALE="en", REPORTS_STALE_DEVICE_DAYS=5)
    yield app
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


def test_the_hub_shows_silent_laptops_and_open_conflicts(hub, travel):
    with hub.app_context():
        world = build_reports_world(_db.session)
        _db.session.add_all([
            Device(name="Portable Civray", structure_id=world["home"], enrolled_dt=NOW - timedelta(days=60),
                   last_seen_dt=NOW - timedelta(days=6)),
            Device(name="Portable Poitiers", structure_id=world["home"], enrolled_dt=NOW - timedelta(days=60),
                   last_seen_dt=NOW - timedelta(days=4))])
        _db.session.commit()
    client = hub.test_client()
    _login(hub, client, "manager")
    html = client.get("/rapports", query_string=PERIOD_ARGS).get_data(as_text=True)
    assert "Laptops not synced for more than 5 days" in html  # the configured number of days
    stale = html.split('id="stale-devices"', 1)[1].split("</ul>", 1)[0]
    assert "Portable Civray" in stale and "Portable Poitiers" not in stale
    assert "0 open conflicts." in html
