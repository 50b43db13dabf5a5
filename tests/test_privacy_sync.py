"""An erasure travels to the hub (R35), with a hub on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.sync.conftest import first_structure, hub, hub_database, make_laptop, pair  # noqa: F401
from tests.sync.test_outbox import forget_seeded_reference
from tests.test_privacy_seed import seed_canary_family
from workshops.core.models import Base
from workshops.extensions import db
from workshops.families.models import Family
from workshops.sync import client
from workshops.sync.erasure_services import erase_family
from workshops.sync.transport import AppTransport

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)


@pytest.fixture
def laptop(make_laptop, pair, hub):  # noqa: F811
    app = make_laptop("a")
    answer = pair(app, "Laptop A")
    with app.app_context():
        forget_seeded_reference()
    app.config["TEST_TOKEN"] = answer["token"]
    return app


def sync(hub_app, laptop_app) -> client.SyncResult:
    with laptop_app.app_context():
        result = client.run(db.session, AppTransport(hub_app, laptop_app.config["TEST_TOKEN"]))
    assert result.ok, result.error
    return result


def canaries_in(app, canaries: list[str]) -> list[str]:
    """'table: canary' for every canary found in any row of any table of that app's database."""
    found = []
    with app.app_context():
        for table in Base.metadata.sorted_tables:
            text = "\n".join(repr(tuple(row)) for row in db.session.execute(select(table))).lower()
            found += [f"{table.name}: {canary}" for canary in canaries if canary.lower() in text]
        db.session.rollback()
    return found


def test_after_the_next_sync_the_hub_holds_no_string_of_the_erased_household(hub, laptop):  # noqa: F811
    with laptop.app_context():
        seeded = seed_canary_family(db.session, structure_id=first_structure(laptop).id)
        db.session.commit()
    sync(hub, laptop)
    assert canaries_in(hub, seeded.canaries), "the hub received the household"
    with laptop.app_context():
        erase_family(db.session(), db.session.get(Family, seeded.family_id), None, NOW)
        db.session.commit()
    sync(hub, laptop)
    assert canaries_in(hub, seeded.canaries) == []
    assert canaries_in(laptop, seeded.canaries) == []
    with hub.app_context():
        assert db.session.get(Family, seeded.family_id).is_purged


def test_an_erasure_made_before_the_first_push_sends_no_string_at_all(hub, laptop):  # noqa: F811
    with laptop.app_context():
        seeded = seed_canary_family(db.session, structure_id=first_structure(laptop).id)
        db.session.commit()
        erase_family(db.session(), db.session.get(Family, seeded.family_id), None, NOW)
        db.session.commit()
    sync(hub, laptop)
    assert canaries_in(hub, seeded.canaries) == []
    with hub.app_context():
        assert db.session.get(Family, seeded.family_id).is_purged
