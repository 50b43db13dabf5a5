"""A Hypothesis state machine over the life of machines: random calls of the real equipment
services on a real SQLite session, against a model of what each call should do.

Each example runs inside a savepoint rolled back at its end; each call inside its own
savepoint, released when it succeeds and, when it is refused, compared with the state before
it (nothing may have changed, not even in the session) and then rolled back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import select

from tests.test_registrations import build_world, new_workshop
from workshops.auth.models import User
from workshops.core.errors import NotAllowed, ValidationFailed
from workshops.equipment import services
from workshops.equipment.models import EQUIPMENT_STATUSES, WITH_FAMILY, Equipment, EquipmentEvent, Handover
from workshops.equipment.services import EquipmentData, default_due_date
from workshops.extensions import db as _db
from workshops.families.models import Family
from workshops.families.services import FamilyData, GuardianData, create_family
from workshops.scheduling.localtime import to_local

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ACTORS = ("conseiller", "outsider", "manager")
MODES = ("gift", "loan", "sale")
FAMILIES = ("wants_laptop", "wants_desktop", "no_need", "elsewhere")
MACHINES = (("EQ-1", "desktop"), ("EQ-2", "laptop"), ("EQ-3", "laptop"), ("EQ-4", "tablet"))
TAGS = ("EQ-1", "eq-2 ", "EQ-9", "EQ-10")


@dataclass
class Expected:
    """What the model says a machine is."""

    status: str = "in_stock"
    reserved_for: uuid.UUID | None = None
    handover: uuid.UUID | None = None
    due_on: date | None = None
    events: list[uuid.UUID] = field(default_factory=list)


def rows(db, model):
    """Every row of a table as raw column values, read from the database (after autoflush)."""
    table = model.__table__
    return {row.id: tuple(row) for row in db.execute(select(*table.columns))}


def test_machines_follow_their_transitions(app):
    with app.app_context():
        db = _db.session
        world = build_world(db)
        workshop = new_workshop(db, world)
        wanted = {"wants_laptop": ("laptop", world.home), "wants_desktop": ("desktop", world.home),
                  "no_need": (None, world.home), "elsewhere": ("laptop", world.other)}
        families = {}
        for name, (need, structure) in wanted.items():
            families[name] = create_family(db, FamilyData(
                guardians=(GuardianData(first_name="Anne", last_name=name.replace("_", " ")),),
                computer_wanted=need,
                structure_id=structure.id, notice_version="2026-01"), world.manager)
        db.commit()
        family_ids = {name: family.id for name, family in families.items()}
        actor_ids = {name: getattr(world, name).id for name in ACTORS}

        class Machines(RuleBasedStateMachine):
            @initialize()
            def stock(self):
                self.outer = db.begin_nested()
                self.clock = START
                self.model: dict[uuid.UUID, Expected] = {}
                self.kinds: dict[uuid.UUID, str] = {}
                self.handovers: list[uuid.UUID] = []
                self.handover_family: dict[uuid.UUID, uuid.UUID] = {}
                self.handover_before: dict[uuid.UUID, str] = {}
                self.seen_handovers: dict = {}
                self.seen_events: dict = {}
                for tag, kind in MACHINES:
                    item = services.add_equipment(db, EquipmentData(tag, world.home.id, kind=kind),
                                                  world.manager, now=self.clock)
                    self.model[item.id] = Expected()
                    self.kinds[item.id] = kind
                self.ids = list(self.model)
                self.collect(self.ids)

            def teardown(self):
                if hasattr(self, "outer"):
                    self.outer.rollback()
                db.rollback()

            # ---------- helpers ----------

            def actor(self, name):
                return db.get(User, actor_ids[name])

            def sees(self, actor_name, structure):
                return actor_name == "manager" or (actor_name == "conseiller") == (structure is world.home)

            def family_structure(self, name):
                return world.other if name == "elsewhere" else world.home

            def today(self):
                return to_local(self.clock).date()

            def snapshot(self):
                return (rows(db, Equipment), rows(db, Handover), rows(db, EquipmentEvent))

            def attempt(self, should_succeed, call, touched=()):
                """Run the call in a savepoint; check the model's prediction (True: must succeed,
                False: must be refused, None: either); on a refusal check that nothing changed.
                Returns the call's result (None when refused)."""
                before = self.snapshot()
                savepoint = db.begin_nested()
                try:
                    result = call()
                except (ValidationFailed, NotAllowed) as refusal:
                    assert self.snapshot() == before, f"refused ({refusal!r}) but something was written"
                    savepoint.rollback()
                    assert should_succeed is not True, f"refused unexpectedly: {refusal!r}"
                    return None
                savepoint.commit()
                assert should_succeed is not False, "succeeded although the model refuses it"
                self.collect(touched)
                return result

            def collect(self, touched=()):
                """Append each machine's new events to its expected history, in order."""
                known = {e for expected in self.model.values() for e in expected.events}
                new = [row for row in db.execute(select(EquipmentEvent.id, EquipmentEvent.equipment_id))
                       if row.id not in known]
                for row in new:
                    if row.equipment_id not in self.model:
                        self.model[row.equipment_id] = Expected()
                    self.model[row.equipment_id].events.append(row.id)
                counts = {}
                for row in new:
                    counts[row.equipment_id] = counts.get(row.equipment_id, 0) + 1
                assert all(n == 1 for n in counts.values()), "one call made two events for a machine"
                assert set(counts) <= set(touched) | set(self.model) - set(self.ids)

            # ---------- rules ----------

            @rule(days=st.sampled_from((0, 1, 30, 200, 400)), hours=st.integers(0, 23))
            def wait(self, days, hours):
                self.clock += timedelta(days=days, hours=hours)

            @rule(tag=st.sampled_from(TAGS), actor=st.sampled_from(ACTORS))
            def add(self, tag, actor):
                taken = services.clean_tag(tag) in {db.get(Equipment, i).asset_tag for i in self.model}
                ok = not taken and self.sees(actor, world.home)
                item = self.attempt(ok, lambda: services.add_equipment(
                    db, EquipmentData(tag, world.home.id, kind="other"), self.actor(actor), now=self.clock))
                if item is not None:
                    self.ids.append(item.id)
                    self.kinds[item.id] = "other"

            @rule(index=st.integers(0, 7), brand=st.sampled_from(("", "HP", "Dell")),
                  ram=st.sampled_from((None, 0, 8)), actor=st.sampled_from(ACTORS))
            def update(self, index, brand, ram, actor):
                item = db.get(Equipment, self.ids[index % len(self.ids)])
                data = EquipmentData(item.asset_tag, item.structure_id, kind=item.kind, brand=brand,
                                     ram_gb=ram)
                ok = ram != 0 and self.sees(actor, world.home)
                self.attempt(ok, lambda: services.update_equipment(db, item, data, self.actor(actor)),
                             [item.id])

            @rule(index=st.integers(0, 7), family=st.sampled_from(FAMILIES), actor=st.sampled_from(ACTORS),
                  other_kind=st.booleans(), at_workshop=st.booleans())
            def reserve(self, index, family, actor, other_kind, at_workshop):
                item_id = self.ids[index % len(self.ids)]
                expected, need = self.model[item_id], wanted[family][0]
                ok = (self.sees(actor, world.home) and self.sees(actor, self.family_structure(family))
                      and (not need or need == self.kinds[item_id] or other_kind)
                      and expected.status == "in_stock")
                if self.attempt(ok, lambda: services.reserve(
                        db, db.get(Equipment, item_id), db.get(Family, family_ids[family]),
                        self.actor(actor), workshop=workshop if at_workshop else None,
                        allow_other_kind=other_kind, now=self.clock), [item_id]) is not None:
                    expected.status, expected.reserved_for = "reserved", family_ids[family]

            @rule(index=st.integers(0, 7), actor=st.sampled_from(ACTORS))
            def cancel(self, index, actor):
                item_id = self.ids[index % len(self.ids)]
                expected = self.model[item_id]
                ok = self.sees(actor, world.home) and expected.status == "reserved"
                if self.attempt(ok, lambda: services.cancel_reservation(
                        db, db.get(Equipment, item_id), self.actor(actor), now=self.clock), [item_id]):
                    expected.status, expected.reserved_for = "in_stock", None

            @rule(index=st.integers(0, 7), family=st.sampled_from(FAMILIES), actor=st.sampled_from(ACTORS),
                  mode=st.sampled_from(MODES), due_in=st.sampled_from((None, -3, 0, 1, 200, 500)),
                  language=st.sampled_from(("fr", "en", "ar")))
            def hand_over(self, index, family, actor, mode, due_in, language):
                item_id = self.ids[index % len(self.ids)]
                expected = self.model[item_id]
                due_on = None if due_in is None else self.today() + timedelta(days=due_in)
                ok = (mode in ("gift", "loan") and self.sees(actor, world.home)
                      and self.sees(actor, self.family_structure(family))
                      and expected.status in ("in_stock", "reserved")
                      and expected.reserved_for in (None, family_ids[family])
                      and (mode == "gift" or due_on is None or due_on > self.today()))
                handover = self.attempt(ok, lambda: services.hand_over(
                    db, db.get(Equipment, item_id), db.get(Family, family_ids[family]),
                    self.actor(actor), mode=mode, workshop=workshop, due_on=due_on, language=language,
                    now=self.clock), [item_id])
                if handover is not None:
                    self.handovers.append(handover.id)
                    self.handover_before[handover.id] = expected.status
                    self.handover_family[handover.id] = family_ids[family]
                    expected.status = "on_loan" if mode == "loan" else "handed_over"
                    expected.reserved_for, expected.handover = None, handover.id
                    expected.due_on = (due_on or default_due_date(self.today())) if mode == "loan" else None
                    assert handover.terms_language == ("fr" if language == "ar" else language)

            @rule(pick=st.integers(0, 30), reason=st.sampled_from(("", "  ", "erreur")),
                  actor=st.sampled_from(ACTORS))
            def void(self, pick, reason, actor):
                if not self.handovers:
                    return
                handover_id = self.handovers[pick % len(self.handovers)]
                handover = db.get(Handover, handover_id)
                expected = self.model[handover.equipment_id]
                ok = (bool(reason.strip()) and self.sees(actor, world.home)
                      and expected.handover == handover_id)
                if self.attempt(ok, lambda: services.void_handover(
                        db, handover, self.actor(actor), reason, now=self.clock), [handover.equipment_id]):
                    back = self.handover_before[handover_id]
                    expected.status, expected.handover, expected.due_on = back, None, None
                    expected.reserved_for = self.handover_family[handover_id] if back == "reserved" else None

            @rule(index=st.integers(0, 7), actor=st.sampled_from(ACTORS))
            def give_back(self, index, actor):
                item_id = self.ids[index % len(self.ids)]
                expected = self.model[item_id]
                ok = self.sees(actor, world.home) and expected.status in WITH_FAMILY
                if self.attempt(ok, lambda: services.record_return(
                        db, db.get(Equipment, item_id), self.actor(actor), now=self.clock), [item_id]):
                    expected.status, expected.handover, expected.due_on = "returned", None, None

            @rule(index=st.integers(0, 7), actor=st.sampled_from(ACTORS),
                  due_in=st.sampled_from((None, 10, 400, 800)))
            def renew(self, index, actor, due_in):
                item_id = self.ids[index % len(self.ids)]
                expected = self.model[item_id]
                day = self.today()
                floor = max(day, expected.due_on or day)
                due_on = None if due_in is None else day + timedelta(days=due_in)
                ok = (self.sees(actor, world.home) and expected.status == "on_loan"
                      and (due_on is None or due_on > floor))
                if self.attempt(ok, lambda: services.renew_loan(
                        db, db.get(Equipment, item_id), self.actor(actor), due_on=due_on, now=self.clock),
                        [item_id]):
                    expected.due_on = due_on or default_due_date(floor)

            @rule(index=st.integers(0, 7), actor=st.sampled_from(ACTORS))
            def restock(self, index, actor):
                item_id = self.ids[index % len(self.ids)]
                expected = self.model[item_id]
                # From reserved, refusing (use cancel) or restocking without the reservation are both fine.
                ok = self.sees(actor, world.home) and (
                    None if expected.status == "reserved" else expected.status in ("returned", "faulty"))
                if self.attempt(ok, lambda: services.restock(
                        db, db.get(Equipment, item_id), self.actor(actor), now=self.clock), [item_id]):
                    expected.status, expected.reserved_for = "in_stock", None

            @rule(index=st.integers(0, 7), actor=st.sampled_from(ACTORS),
                  reason=st.sampled_from(("", "écran")))
            def faulty(self, index, actor, reason):
                item_id = self.ids[index % len(self.ids)]
                expected = self.model[item_id]
                ok = (bool(reason) and self.sees(actor, world.home)
                      and expected.status in ("in_stock", "reserved", "returned"))
                if self.attempt(ok, lambda: services.mark_faulty(
                        db, db.get(Equipment, item_id), self.actor(actor), reason, now=self.clock),
                        [item_id]):
                    expected.status, expected.reserved_for = "faulty", None

            @rule(index=st.integers(0, 7), actor=st.sampled_from(ACTORS))
            def recycle(self, index, actor):
                item_id = self.ids[index % len(self.ids)]
                expected = self.model[item_id]
                ok = self.sees(actor, world.home) and expected.status in ("in_stock", "returned", "faulty")
                if self.attempt(ok, lambda: services.recycle(
                        db, db.get(Equipment, item_id), self.actor(actor), now=self.clock), [item_id]):
                    expected.status = "recycled"

            # ---------- invariants ----------

            @invariant()
            def statuses_match_the_model(self):
                if not hasattr(self, "outer"):
                    return
                for item_id in self.ids:
                    item = db.get(Equipment, item_id)
                    expected = self.model[item_id]
                    assert item.status in EQUIPMENT_STATUSES
                    assert item.status == expected.status, item.asset_tag
                    assert item.reserved_family_id == expected.reserved_for, item.asset_tag
                    assert item.loan_due_on == expected.due_on, item.asset_tag

            @invariant()
            def one_active_handover_at_most(self):
                if not hasattr(self, "outer"):
                    return
                closed = set(db.scalars(select(EquipmentEvent.handover_id).where(
                    EquipmentEvent.kind.in_(("voided", "returned")))))
                for item_id in self.ids:
                    item = db.get(Equipment, item_id)
                    assert (item.current_handover_id is not None) == (item.status in WITH_FAMILY)
                    assert (item.reserved_family_id is not None) == (item.status == "reserved")
                    assert item.current_handover_id == self.model[item_id].handover
                    mine = db.scalars(select(Handover.id).where(Handover.equipment_id == item_id))
                    open_ = [h for h in mine if h not in closed]
                    assert open_ == ([item.current_handover_id] if item.current_handover_id else [])

            @invariant()
            def events_chain(self):
                if not hasattr(self, "outer"):
                    return
                for item_id in self.ids:
                    item = db.get(Equipment, item_id)
                    expected = self.model[item_id].events
                    stored = {e.id: e for e in db.scalars(select(EquipmentEvent).where(
                        EquipmentEvent.equipment_id == item_id))}
                    assert set(stored) == set(expected)
                    chain = [stored[e] for e in expected]
                    assert chain[0].from_status is None
                    for previous, event in zip(chain, chain[1:], strict=False):
                        assert event.from_status == previous.to_status, (previous.kind, event.kind)
                    assert chain[-1].to_status == item.status

            @invariant()
            def history_is_never_rewritten(self):
                if not hasattr(self, "outer"):
                    return
                for model, seen in ((Handover, self.seen_handovers), (EquipmentEvent, self.seen_events)):
                    now = rows(db, model)
                    for row_id, values in seen.items():
                        assert now.get(row_id) == values, f"{model.__name__} row changed or deleted"
                    seen.update(now)

        run_state_machine_as_test(Machines, settings=settings(
            max_examples=50, stateful_step_count=30, deadline=None, report_multiple_bugs=False,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
