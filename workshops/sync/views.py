"""The laptop's sync page: connect to the hub, sync now with progress, what is pending.

"Sync now" runs `client.run` in a thread of the web process, with its own app context and
session; the page follows it by polling its JSON progress (static/js/sync.js), or, without
JavaScript, by reloading itself. The result says what went through and, after a failure, why
and what to do: never "synced" after a failure. These pages exist on a laptop only (a hub has
no routes here: 404).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Flask, current_app, flash, g, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from workshops.core.models import utcnow
from workshops.core.security import roles_required
from workshops.extensions import db
from workshops.sync import client, device_services, forms, keys, queries, registry, transport
from workshops.sync.models import SyncState

bp = Blueprint("sync", __name__, url_prefix="/sync")
log = logging.getLogger(__name__)

STAFF = ("conseiller", "manager", "admin")
ENROL_TIMEOUT_SECONDS = 20

# What each stable error code means for the person at the laptop, and what to do.
ERRORS = {
    "network": _l("The hub could not be reached. Check that this computer is connected to the internet "
                  "and that the hub's address is right, then try again. Nothing was lost: your work stays "
                  "on this computer until it reaches the hub."),
    "certificate": _l("The hub's certificate could not be verified, so nothing was sent: it expired, it was "
                      "made for another address, or someone is intercepting the connection. Check the hub's "
                      "address, then tell the hub's administrator. Your work stays on this computer."),
    "revoked": _l("The hub refuses this laptop: it was revoked (declared lost, or replaced). Ask the hub's "
                  "administrator to create a new device, then connect again."),
    "unknown_device": _l("The hub does not recognise this laptop any more. Ask the hub's administrator for a "
                         "new pairing code, then connect again."),
    "device_rewound": _l("This laptop's data is older than what the hub already received from it (the "
                         "laptop was restored from a backup or copied). Nothing was sent. Ask the hub's "
                         "administrator to create a new device for it."),
    "hub_too_old": _l("The hub runs an older version of the application than this laptop. Ask the hub's "
                      "administrator to update the hub, then try again."),
    "client_too_old": _l("This laptop's version of the application is too old for the hub. Update the "
                         "application on this laptop, then try again."),
    "gap": _l("The hub is missing earlier changes from this laptop and they could not be sent again. Try "
              "again; if it happens again, tell the hub's administrator."),
    "bad_request": _l("The hub refused what this laptop sent as malformed. Try again; if it happens again, "
                      "tell the hub's administrator."),
    "bad_code": device_services.BAD_CODE,
    "not_connected": _l("This laptop is not connected to a hub yet: connect it first."),
    "epoch_changed": _l("The hub was restored from a backup during the sync. Try again: this laptop will "
                        "send again what the hub may have lost."),
    "internal": _l("The sync stopped on an unexpected error. Your work stays on this computer. Try again; "
                   "if it happens again, tell the hub's administrator."),
}
UNKNOWN_ERROR = _l("The hub answered with an error this laptop does not know. Try again later; if it "
                   "happens again, tell the hub's administrator.")

# Translators: why the hub refused one change for good.
REJECTED_REASONS = {
    "duplicate_value": _l("another record on the hub already has this value (a name or number used twice)"),
    "unknown_table": _l("the hub does not know this kind of record (update the hub)"),
    "bad_value": _l("a value is not valid for the hub"),
    "missing_parent": _l("the record it belongs to is not on the hub"),
    "other_structure": _l("it belongs to another structure than this laptop's"),
    "reference_data": _l("shared reference data (structures, venues, resources) is changed on the hub only"),
    "account_not_allowed": _l("accounts other than this structure's conseillers are managed on the hub only"),
    "local_duplicate": _l("the hub has a record with the same name or number as one made on this laptop: "
                          "the hub's record was not received; correct the laptop's record"),
}


HUB_FAILED = _l("The hub met a problem and could not take the sync. Nothing was lost: try again later; if "
                "it happens again, tell the hub's administrator.")


def error_message(code: str | None) -> str:
    """A failure's stable code in plain words, saying what to do."""
    if code == "hub_error" or (code and code.startswith("http_5")):
        return str(HUB_FAILED)
    return str(ERRORS.get(code or "", UNKNOWN_ERROR))


def rejected_reason(code: str) -> str:
    return str(REJECTED_REASONS.get(code, _l("the hub refused it (%(code)s)", code=code)))


def make_transport(hub_url: str, token: str, timeout: float = 30) -> transport.Transport:
    """The way to the hub (the tests put a hub app in its place)."""
    return transport.HttpTransport(hub_url, token, timeout=timeout)


# ---------- The run in the background ----------

@dataclass
class SyncJob:
    """The sync started from the page, while it runs and after (until the next one)."""

    state: str = "running"  # running, done
    step: str = ""
    done: int = 0
    total: int = 0
    result: client.SyncResult | None = None
    finished_dt: datetime | None = None

    def progress(self, step: str, done: int, total: int) -> None:
        self.step, self.done, self.total = step, done, total

    def as_json(self) -> dict:
        return {"state": self.state, "step": self.step, "done": self.done, "total": self.total}


_lock = threading.Lock()
JOB = "workshops_sync_job"


def current_job() -> SyncJob | None:
    return current_app.extensions.get(JOB)


def start_job(app: Flask, actor_id: uuid.UUID | None = None) -> SyncJob:
    """Start a sync in a thread, unless one is already running (then that one is returned);
    `actor_id`, the account that asked, goes to the audit journal."""
    with _lock:
        job = app.extensions.get(JOB)
        if job is not None and job.state == "running":
            return job
        job = app.extensions[JOB] = SyncJob()
    threading.Thread(target=_run, args=(app, job, actor_id), name="sync-run", daemon=True).start()
    return job


def _run(app: Flask, job: SyncJob, actor_id: uuid.UUID | None = None) -> None:
    with app.app_context():
        try:
            state = db.session.get(SyncState, 1)
            connected = state is not None and state.token
            channel = make_transport(state.hub_url, state.token) if connected else None
            result = client.run(db.session, channel, progress=job.progress, actor_id=actor_id)
        except Exception as error:  # recorded as a failure by client.run; never shown as success
            log.error("sync: the run stopped on %s", type(error).__name__)
            db.session.rollback()
            result = client.SyncResult(ok=False, error="internal")
        finally:
            db.session.remove()
    with _lock:
        job.result, job.finished_dt, job.state = result, utcnow(), "done"


@dataclass(frozen=True)
class Outcome:
    """The last run, as shown: this session's job, or what the state row remembers."""

    ok: bool
    error: str | None
    counts: dict
    when: datetime | None


def last_outcome(state: SyncState | None, job: SyncJob | None) -> Outcome | None:
    """The latest of this page's run and the run the state row remembers (`flask sync run`
    writes only the latter)."""
    outcomes = [outcome for outcome in (_job_outcome(job), _state_outcome(state)) if outcome is not None]
    return max(outcomes, key=lambda outcome: outcome.when) if outcomes else None


def _job_outcome(job: SyncJob | None) -> Outcome | None:
    if job is None or job.result is None:
        return None
    result = job.result
    return Outcome(result.ok, result.error, {"sent": result.sent, "received": result.received,
                                             "conflicts": result.conflicts, "rejected": result.rejected},
                   job.finished_dt)


def _state_outcome(state: SyncState | None) -> Outcome | None:
    if state is None or (state.last_success_dt is None and state.last_failure_dt is None):
        return None
    failed = state.last_failure_dt is not None and (state.last_success_dt is None
                                                    or state.last_failure_dt >= state.last_success_dt)
    return Outcome(not failed, state.last_error if failed else None, state.last_result or {},
                   state.last_failure_dt if failed else state.last_success_dt)


# ---------- Pages ----------

def _page(form: forms.ConnectForm | None = None, status: int = 200):
    sync_status = queries.get_laptop_status(db.session)
    job = current_job()
    outcome = last_outcome(sync_status.state, job)
    failed = outcome is not None and not outcome.ok
    return render_template(
        "sync/index.html", status=sync_status, form=form or forms.ConnectForm(), run_form=forms.ConfirmForm(),
        job=job, outcome=outcome, error_text=error_message(outcome.error) if failed else "",
        rejected_reason=rejected_reason, error_message=error_message,
        table_labels=forms.table_labels(), skew_minutes=queries.SKEW_WARNING_MS // 60_000), status


@bp.get("")
@roles_required(*STAFF)
def index():
    return _page()


@bp.post("/connect")
@roles_required(*STAFF)
def connect():
    form = forms.ConnectForm()
    if queries.get_laptop_status(db.session).is_connected:
        flash(_("This laptop is already connected to a hub."), "error")
        return redirect(url_for(".index"))
    if not form.validate_on_submit():
        return _page(form, 400)
    if not device_services.is_safe_hub_url(form.hub_url.data):
        form.hub_url.errors = [*form.hub_url.errors, _(
            "The hub's address must start with https://: the laptop's key would travel in clear.")]
        return _page(form, 400)
    signing_key = keys.new_signing_key()
    now_ms = time.time_ns() // 1_000_000
    payload = {"code": form.code.data, "verify_key": keys.verify_key(signing_key),
               "app_version": client.app_version(), "schema_version": registry.SCHEMA_VERSION,
               "device_time_ms": now_ms}
    try:
        code, answer = make_transport(form.hub_url.data, "", timeout=ENROL_TIMEOUT_SECONDS).post(
            "/api/sync/enrol", payload)
    except transport.CertificateRefused:
        form.hub_url.errors = [*form.hub_url.errors, error_message("certificate")]
        return _page(form, 400)
    except transport.TransportError:
        form.hub_url.errors = [*form.hub_url.errors, error_message("network")]
        return _page(form, 400)
    if code != 200 or "token" not in answer:
        error = answer.get("error")
        target = form.code if error == "bad_code" else form.hub_url
        target.errors = [*target.errors, error_message(error)]
        return _page(form, 400)
    device_services.save_connection(db.session, form.hub_url.data, {"device_time_ms": now_ms, **answer},
                                    signing_key)
    db.session.commit()
    flash(_("This laptop is connected to the hub as %(name)s. You can sync now.",
            name=answer.get("device_name") or ""), "success")
    return redirect(url_for(".index"))


@bp.post("/run")
@roles_required(*STAFF)
def run():
    if not queries.get_laptop_status(db.session).is_connected:
        flash(error_message("not_connected"), "error")
        return redirect(url_for(".index"))
    db.session.commit()  # the run writes in its own transactions: let go of this request's
    start_job(current_app._get_current_object(), g.user.id)
    return redirect(url_for(".index"), 303)


@bp.get("/progress")
@roles_required(*STAFF)
def progress():
    job = current_job()
    return jsonify(job.as_json() if job is not None else {"state": "none", "step": "", "done": 0, "total": 0})
