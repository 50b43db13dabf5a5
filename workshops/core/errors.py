"""Domain errors raised by services, and the error pages shown for HTTP errors.

Every failure a person can meet gives a page in their language that says what happened and
what to do next. No traceback, exception name, SQL, file path or raw message ever reaches a
page: unexpected errors are logged by type and frames only, under a short reference number
that the page shows, so the administrator can find the line in the logs.
"""

from __future__ import annotations

import logging
import math
import secrets
import sqlite3
import traceback
from collections.abc import Iterable

from flask import Flask, current_app, g, has_request_context, jsonify, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed, NotFound

log = logging.getLogger(__name__)

Reason = tuple[str | None, str]


class ValidationFailed(Exception):
    """A business rule refused the input; `reasons` are (field or None, message) pairs."""

    def __init__(self, reasons: Iterable[Reason]):
        self.reasons = list(reasons)
        super().__init__("; ".join(str(message) for _, message in self.reasons))


class NotAllowed(Exception):
    """The acting user may not do this."""


class Conflict(Exception):
    """The change collides with the current state (already done, changed meanwhile)."""


class SyncError(Exception):
    """A sync exchange failed; the message says why in plain words."""


# Titles and explanations of the error pages, translated at request time.
ERROR_PAGES = {
    400: (_l("The request could not be understood"),
          _l("Go back, reload the page and try again.")),
    403: (_l("You do not have access to this page"),
          _l("Ask an administrator if you need it for your work.")),
    404: (_l("Page not found"),
          _l("The address may be mistyped, or the item was removed. Use the menu to find your way.")),
    405: (_l("This action is not possible here"),
          _l("Go back and use the buttons of the page.")),
    413: (_l("The file is too large"),
          _l("Send a smaller file, or split it in several parts.")),
    429: (_l("Too many attempts"),
          _l("Wait a minute, then try again.")),
    500: (_l("Something went wrong on our side"),
          _l("Nothing you did caused this. Your last action may not have been saved: "
             "check, then try again.")),
    503: (_l("The application is not ready"),
          _l("Ask the person who installed it, or try again in a moment.")),
}

# What an unexpected error means for the user's data, by what the request had done.
PAGE_NOT_SHOWN = _l("Nothing was changed. Try again in a moment; if it happens again, tell the "
                    "administrator and give them the reference below.")
CHANGE_NOT_SAVED = _l("Your change was not saved: nothing was written. Try again; if it happens "
                      "again, write it down on paper, tell the administrator and give them the "
                      "reference below.")
CHANGE_SAVED = _l("Your change was saved, but the next page could not be shown. Open the list "
                  "again to check it before doing anything twice.")

# Database failures (SQLite messages), and what they mean for the user.
BUSY_MESSAGES = ("database is locked", "database is busy", "database table is locked")
UNWRITABLE_MESSAGES = ("readonly database", "database or disk is full", "disk i/o error",
                       "unable to open database")
BUSY_TITLE = _l("The database is busy")
BUSY_HINT = _l("Another task is writing to it (a sync or a backup, say). Your change was not "
               "saved: wait a moment, then send it again.")
BUSY_READ_HINT = _l("Another task is writing to it (a sync or a backup, say). Nothing was changed: "
                    "wait a moment, then open the page again.")
UNWRITABLE_TITLE = _l("The database cannot be written")
UNWRITABLE_HINT = _l("The disk may be full, or the database file may be read-only. Your change "
                     "was not saved: write it down on paper and call the administrator.")
UNWRITABLE_READ_HINT = _l("The disk may be full, or the database file may be read-only. Nothing was "
                          "changed: call the administrator.")
RETRY_SECONDS = 5

# Set on `g` when a transaction committed during the request (see _note_commit).
_COMMITTED = "_workshops_committed"


@event.listens_for(Session, "after_commit")
def _note_commit(session) -> None:
    """Remember that this request wrote something, so an error page never says otherwise."""
    if has_request_context():
        setattr(g, _COMMITTED, True)


def database_failure(error: BaseException) -> str | None:
    """'busy' for a locked database, 'unwritable' for a full disk or read-only file, else None."""
    original = error.orig if isinstance(error, DBAPIError) else error
    if not isinstance(original, sqlite3.OperationalError | sqlite3.DatabaseError):
        return None
    message = str(original).lower()
    if any(text in message for text in BUSY_MESSAGES):
        return "busy"
    if any(text in message for text in UNWRITABLE_MESSAGES):
        return "unwritable"
    return None


def _wants_json() -> bool:
    """A machine's request (the /api/ routes answer JSON, errors too), not a person's."""
    return request.path.startswith("/api/")


def _megabytes(size: int | None) -> str:
    """A size in MB, written the way the page's language writes numbers (1,5 in French)."""
    return format_decimal(round(size / (1024 * 1024), 1)) if size else "?"


def _list_url() -> str | None:
    """The list page above a missing item (/families for /families/<id>), if there is one."""
    segment = request.path.strip("/").split("/", 1)[0]
    if not segment or request.path.strip("/") == segment:
        return None
    try:
        endpoint, values = current_app.url_map.bind("").match(f"/{segment}", method="GET")
    except HTTPException:
        return None
    return None if values else url_for(endpoint)


def _render(code: int, title, hint, detail=None, reference=None, list_url=None):
    """The error page; a bare page if the full layout itself fails (a broken database, say)."""
    values = {"code": code, "title": title, "hint": hint, "detail": detail, "reference": reference,
              "list_url": list_url}
    try:
        return render_template("errors/error.html", **values), code
    except Exception as error:  # noqa: BLE001 - the layout failed: the bare page needs nothing
        log.error("error page %s: the layout failed (%s)", code, type(error).__name__)
        return render_template("errors/minimal.html", **values), code


def _render_error(code: int, detail: str | None = None):
    title, hint = ERROR_PAGES.get(code, ERROR_PAGES[500])
    return _render(code, title, hint, detail=detail)


def _rollback(app: Flask) -> None:
    try:
        app.extensions["sqlalchemy"].session.rollback()
    except Exception as error:  # noqa: BLE001 - the page must still be shown
        log.error("rollback after an error failed (%s)", type(error).__name__)


def init_app(app: Flask) -> None:
    """Register translated error pages; no traceback or raw message ever reaches a page."""

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        # Checked before any view runs: nothing was saved. The typed text is not kept either
        # (pages are not cached), so the message says to type it again.
        title = _l("This form could not be accepted")
        hint = _l("The page was open too long, or your session ended: nothing was saved. Reload the "
                  "page (log in again if asked), then type your change again and send it.")
        return _render(400, title, hint)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        if error.code == 413 and not _wants_json():
            # Uploads (lists to import) are the only large requests: give their own limit.
            sizes = [current_app.config.get(key) for key in ("MAX_CONTENT_LENGTH", "IMPORT_MAX_BYTES")]
            limit = _megabytes(min((size for size in sizes if size), default=None))
            return _render_error(413, str(_l("The limit is %(size)s MB.", size=limit)))
        if error.code == 429:
            minutes = math.ceil(current_app.config["LOGIN_IP_WINDOW_SECONDS"] / 60)
            title = ERROR_PAGES[429][0]
            hint = _l("Too many wrong passwords were typed on this computer. Wait %(num)d minutes, "
                      "then try again; ask an administrator if you forgot your password.", num=minutes)
            body, code = _render(429, title, hint)
            return body, code, {"Retry-After": str(minutes * 60)}
        if _wants_json():
            return jsonify({"error": "http_error", "message": error.name}), error.code
        if isinstance(error, NotFound) and g.get("user") is not None:
            title, hint = ERROR_PAGES[404]
            return _render(404, title, hint, list_url=_list_url())
        body, code = _render_error(error.code)
        if isinstance(error, MethodNotAllowed):
            return body, code, {"Allow": ", ".join(error.valid_methods or ())}
        return body, code

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        _rollback(app)
        failure = database_failure(error)
        if _wants_json():
            log.error("unhandled %s on a JSON route", type(error).__name__)
            return jsonify({"error": "server_error", "message": "The server failed; try again later."}), 500
        # What the page may say of the user's data: a read changed nothing, and a request
        # that committed before failing did save its change.
        reading = request.method in ("GET", "HEAD", "OPTIONS") and not g.get(_COMMITTED)
        if failure == "busy" and not g.get(_COMMITTED):
            log.warning("database busy: %s %s refused", request.method, request.endpoint)
            body, code = _render(503, BUSY_TITLE, BUSY_READ_HINT if reading else BUSY_HINT)
            return body, code, {"Retry-After": str(RETRY_SECONDS)}
        # Log the type and the frames only: messages (SQL parameters, values)
        # may carry personal data.
        reference = secrets.token_hex(4).upper()
        frames = "".join(traceback.format_tb(error.__traceback__)).replace("\n", " | ")
        log.error("unhandled %s (reference %s) at %s", type(error).__name__, reference, frames)
        if failure == "unwritable" and not g.get(_COMMITTED):
            return _render(503, UNWRITABLE_TITLE, UNWRITABLE_READ_HINT if reading else UNWRITABLE_HINT,
                           reference=reference)
        if g.get(_COMMITTED):
            hint = CHANGE_SAVED
        elif reading:
            hint = PAGE_NOT_SHOWN
        else:
            hint = CHANGE_NOT_SAVED
        return _render(InternalServerError.code, ERROR_PAGES[500][0], hint, reference=reference)
