"""`flask sync ...`: run, status, connect, USB bundles, devices.

On a laptop: `connect`, `run`, `status`, `export-bundle`, `import-bundle` (the hub's answer).
On the hub: `device ...`, `new-epoch`, `status`, `import-bundle` (a laptop's bundle, answered
with a bundle to take back). A command of the other role refuses with exit status 1. Every
command that fails exits with status 1; `run` never says "synced" after a failure.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from workshops.auth import queries as auth_queries
from workshops.core.db import begin_write
from workshops.core.errors import ValidationFailed
from workshops.extensions import db
from workshops.sync import (
    bundle_services,
    client,
    device_services,
    erasure_ledger,
    keys,
    outbox_services,
    queries,
    registry,
)
from workshops.sync.bundle import BundleRefused
from workshops.sync.models import Device
from workshops.sync.tracking_services import hub_state
from workshops.sync.transport import CertificateRefused, HttpTransport, TransportError

sync = AppGroup("sync", help="Sync this laptop with the hub, or manage the hub's devices.")
device_group = AppGroup("device", help="The hub's devices (laptops): create, list, revoke, pairing codes.")
sync.add_command(device_group)

# Plain words for the stable failure codes of a sync run or an enrolment.
REASONS = {
    "network": "the hub could not be reached (no network, wrong address, or the hub is down)",
    "certificate": "the hub's certificate could not be verified (expired, self-signed, made for another "
                   "address, or the connection is intercepted): nothing was sent; tell the hub's "
                   "administrator",
    "not_connected": "this laptop is not connected to a hub: run `flask sync connect URL CODE` first",
    "revoked": "the hub revoked this laptop: ask its administrator for a new device and connect again",
    "unknown_device": "the hub does not know this laptop's token: connect it again with a new pairing code",
    "hub_too_old": "the hub runs an older version than this laptop: the hub must be upgraded first",
    "client_too_old": "this laptop's version is too old for the hub: upgrade the application",
    "device_rewound": "this laptop's database is older than what the hub received from it (restored or "
                      "copied): connect it again as a new device",
    "gap": "the hub is missing earlier batches of this laptop; run the sync again",
    "bad_request": "the hub refused a malformed request",
    "epoch_changed": "the hub was restored from a backup during the sync; run the sync again",
    "internal": "an unexpected error stopped the sync",
}
BUNDLE_REASONS = {
    "unreadable": "the file is not a bundle for this machine (not readable with its key)",
    "bad_signature": "the bundle's signature is wrong: it was not made by the expected laptop or hub",
    "tampered": "the bundle was altered after it was made",
    "wrong_hub": "the bundle was made for another hub",
    "unknown_device": "the bundle comes from a laptop this hub does not know (or this laptop is not "
                      "connected)",
    "revoked": "the bundle comes from a revoked laptop",
}


def reason_text(code: str | None) -> str:
    return REASONS.get(code or "", f"the hub answered an error ({code})")


def _role() -> str:
    return current_app.config["ROLE"]


def _only(role: str) -> None:
    if _role() != role:
        other = "the hub" if role == "hub" else "a laptop"
        raise click.ClickException(f"This command runs on {other}; this installation is a {_role()}.")


def _laptop_state():
    """The laptop's connection, refusing when not connected."""
    state = device_services.sync_state(db.session)
    if state.device_id is None or not state.token:
        db.session.rollback()
        raise click.ClickException("This laptop is not connected to a hub: "
                                   "run `flask sync connect URL CODE`.")
    return state


def _device(device_id: uuid.UUID) -> Device:
    device = db.session.get(Device, device_id)
    if device is None:
        raise click.ClickException(f"No device has the id {device_id}.")
    return device


def _commit() -> None:
    try:
        db.session.commit()
    except SQLAlchemyError as error:
        db.session.rollback()
        raise click.ClickException(f"Nothing was written: the database refused the change "
                                   f"({type(error).__name__}).") from None


def _ms(when) -> str:
    return when.isoformat(timespec="seconds") if when else "never"


# ---------- Laptop ----------

@sync.command("connect")
@click.argument("url")
@click.argument("code")
def connect(url: str, code: str) -> None:
    """Connect this laptop to the hub at URL with the pairing CODE shown on the hub."""
    _only("laptop")
    if not device_services.is_safe_hub_url(url):
        raise click.ClickException("The hub's address must start with https:// (plain http only to "
                                   "127.0.0.1): the laptop's key would travel in clear.")
    state = device_services.sync_state(db.session)
    if state.device_id is not None:
        db.session.rollback()
        raise click.ClickException(f"This laptop is already connected to {state.hub_url} as device "
                                   f"{state.device_id}.")
    db.session.rollback()
    signing_key = keys.new_signing_key()
    payload = {"code": code, "verify_key": keys.verify_key(signing_key), "app_version": "workshops",
               "schema_version": registry.SCHEMA_VERSION, "device_time_ms": time.time_ns() // 1_000_000}
    try:
        status, answer = HttpTransport(url, "").post("/api/sync/enrol", payload)
    except CertificateRefused as refused:
        raise click.ClickException(f"The hub at {url} was refused: {refused}.") from None
    except TransportError:
        raise click.ClickException(f"The hub could not be reached at {url}: check the address and "
                                   "the network.") from None
    if status != 200:
        if answer.get("error") == "bad_code":
            raise click.ClickException("The pairing code is unknown, used or expired: ask the hub's "
                                       "administrator for a new one.")
        raise click.ClickException(f"The hub refused: {reason_text(answer.get('error'))}.")
    answer.setdefault("device_time_ms", payload["device_time_ms"])
    begin_write(db.session)
    state = device_services.save_connection(db.session, url, answer, signing_key)
    _commit()
    click.echo(f"Connected to {state.hub_url} as {state.device_name or 'this laptop'} "
               f"(device {state.device_id}). Run `flask sync run` to sync.")


@sync.command("run")
def run_command() -> None:
    """Send this laptop's changes to the hub and receive the hub's."""
    _only("laptop")
    state = _laptop_state()
    transport = HttpTransport(state.hub_url, state.token)
    db.session.rollback()
    result = client.run(db.session, transport)
    counts = (f"sent {result.sent} change(s), received {result.received}, conflicts {result.conflicts}, "
              f"rejected {result.rejected}")
    if not result.ok:
        click.echo(f"Sync failed: {reason_text(result.error)}. Before stopping: {counts}.", err=True)
        raise SystemExit(1)
    click.echo(f"Synced: {counts}.")
    if result.rejected:
        click.echo("Some changes were refused by the hub: see `flask sync status`.")
    if queries.is_skewed(result.clock_offset_ms):
        click.echo(f"Warning: this laptop's clock is {abs(result.clock_offset_ms) // 60000} minute(s) "
                   "away from the hub's: set the date and time.")


@sync.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(as_json: bool) -> None:
    """What waits to be sent, the last success and failure (laptop); the hub's counters (hub)."""
    report = _hub_status() if _role() == "hub" else _laptop_status()
    db.session.rollback()
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    for key, value in report.items():
        if key == "last_error" and value:
            value = f"{value}: {reason_text(value)}"
        click.echo(f"{key.replace('_', ' ').capitalize()}: {'' if value is None else value}")
    if report.get("clock_warning"):
        click.echo("Warning: this laptop's clock is more than 5 minutes away from the hub's.")


def _laptop_status() -> dict:
    found = queries.get_laptop_status(db.session)
    state = found.state
    return {"role": "laptop", "connected": found.is_connected,
            "hub_url": state.hub_url if state else None,
            "device_id": str(state.device_id) if state and state.device_id else None,
            "pending_changes": found.pending_changes, "unacked_batches": found.unacked_batches,
            "rejected_changes": len(found.rejected),
            "last_attempt": _iso(state and state.last_attempt_dt),
            "last_success": _iso(state and state.last_success_dt),
            "last_failure": _iso(state and state.last_failure_dt),
            "last_error": state.last_error if state else None,
            "cursor": state.pull_cursor if state else 0,
            "clock_offset_ms": state.clock_offset_ms if state else None,
            "clock_warning": found.is_skewed}


def _hub_status() -> dict:
    state = hub_state(db.session)
    devices = queries.list_devices(db.session)
    return {"role": "hub", "hub_id": str(state.hub_id), "hub_epoch": str(state.epoch),
            "last_seq": state.last_seq,
            "devices": sum(1 for row in devices if row.device.revoked_dt is None),
            "revoked_devices": sum(1 for row in devices if row.device.revoked_dt is not None),
            "open_conflicts": queries.count_open_conflicts(db.session)}


def _iso(when) -> str | None:
    return when.isoformat(timespec="seconds") if when else None


@sync.command("export-bundle")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def export_bundle(out: Path) -> None:
    """Write this laptop's changes to the bundle file OUT, to carry to the hub (USB stick)."""
    _only("laptop")
    _laptop_state()
    db.session.rollback()
    begin_write(db.session)
    data = bundle_services.export_bundle(db.session)
    batches = len(outbox_services.unacked(db.session))
    # Frozen before written: a bundle never holds a batch the outbox does not keep.
    _commit()
    out.write_bytes(data)
    click.echo(f"{out}: {batches} batch(es) to import on the hub with `flask sync import-bundle`; "
               "bring back the answer file and import it here.")


@sync.command("import-bundle")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--answer", "answer_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Hub: where to write the answer bundle (default: the bundle's name + .answer).")
def import_bundle(path: Path, answer_path: Path | None) -> None:
    """Hub: apply a laptop's bundle and write the answer to take back. Laptop: apply the hub's
    answer bundle."""
    data = path.read_bytes()
    begin_write(db.session)
    try:
        if _role() == "hub":
            answer = bundle_services.import_bundle(db.session, data)
            _commit()
            target = answer_path or path.with_name(path.name + ".answer")
            target.write_bytes(answer)
            click.echo(f"Bundle applied. Take {target} back to the laptop and run "
                       "`flask sync import-bundle` there.")
            return
        _laptop_state()
        counts = bundle_services.import_answer(db.session, data)
        _commit()
    except BundleRefused as refused:
        db.session.rollback()
        raise click.ClickException(f"Bundle refused: {BUNDLE_REASONS.get(refused.reason, refused.reason)}.") \
            from None
    click.echo(f"Answer applied: {counts['acked']} batch(es) acknowledged, {counts['received']} change(s) "
               f"received, conflicts {counts['conflicts']}, rejected {counts['rejected']}.")
    if counts["refused"]:
        click.echo(f"{counts['refused']} batch(es) were not applied by the hub: run `flask sync run` "
                   "or export a new bundle.")


# ---------- Hub ----------

def _structure(name_or_id: str):
    try:
        structure = auth_queries.get_structure(db.session, uuid.UUID(name_or_id))
    except ValueError:
        structure = auth_queries.get_structure_by_name(db.session, name_or_id)
    if structure is None:
        raise click.ClickException(f"No structure named or numbered {name_or_id!r}.")
    return structure


def _echo_code(code: str) -> None:
    click.echo(f"Pairing code: {code} (usable once, valid {device_services.PAIRING_MINUTES} minutes). "
               "On the laptop: flask sync connect HUB_URL CODE, or the Sync page.")


@device_group.command("create")
@click.argument("name")
@click.option("--structure", "structure_name", required=True, help="Name or id of the laptop's structure.")
def device_create(name: str, structure_name: str) -> None:
    """A new device NAME for a structure, and its pairing code."""
    _only("hub")
    begin_write(db.session)
    structure = _structure(structure_name)
    try:
        device, code = device_services.create_device(db.session, name, structure.id, None)
    except ValidationFailed as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    _commit()
    click.echo(f"Device {device.name} ({device.id}) created for {structure.name}.")
    _echo_code(code)


@device_group.command("list")
def device_list() -> None:
    """Every device: id, name, structure, state, last contact, last batch."""
    _only("hub")
    rows = queries.list_devices(db.session)
    for row in rows:
        device = row.device
        state = "revoked" if device.revoked_dt else "enrolled" if device.enrolled_dt else "not paired"
        click.echo(f"{device.id}  {device.name}  [{row.structure_name}]  {state}  "
                   f"last contact: {_ms(device.last_seen_dt)}  last batch: {device.last_batch_seq}")
    if not rows:
        click.echo("No device yet: create one with `flask sync device create NAME --structure NAME`.")
    db.session.rollback()


@device_group.command("revoke")
@click.argument("device_id", type=click.UUID)
def device_revoke(device_id: uuid.UUID) -> None:
    """Refuse the device DEVICE_ID for good (a lost or stolen laptop)."""
    _only("hub")
    begin_write(db.session)
    device = _device(device_id)
    device_services.revoke(db.session, device)
    _commit()
    click.echo(f"Device {device.name} ({device.id}) revoked: its token and bundles are refused.")


@device_group.command("code")
@click.argument("device_id", type=click.UUID)
def device_code(device_id: uuid.UUID) -> None:
    """A new pairing code for DEVICE_ID, not yet connected (earlier unused codes stop working).
    A connected laptop that is reinstalled is a new device: revoke this one, create another."""
    _only("hub")
    begin_write(db.session)
    device = _device(device_id)
    try:
        code = device_services.new_pairing_code(db.session, device)
    except ValidationFailed as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    _commit()
    _echo_code(code)


@sync.command("new-epoch")
def new_epoch() -> None:
    """After restoring the hub's database from a backup: laptops pull again from the start and
    send again what the hub may have lost; the households erased on the hub since the backup are
    erased again (the erasure ledger in the instance folder)."""
    _only("hub")
    begin_write(db.session)
    epoch = device_services.new_epoch(db.session)
    erased = erasure_ledger.reapply(db.session, erasure_ledger.ledger_path(current_app.instance_path))
    _commit()
    click.echo(f"New hub epoch {epoch}: laptops will resend what the backup lost at their next sync.")
    if erased:
        click.echo(f"{erased} household(s) erased since the backup were erased again.")
