"""Domain errors raised by services, and the error pages shown for HTTP errors."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable

from flask import Flask, render_template
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

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


def _render_error(code: int, detail: str | None = None):
    title, hint = ERROR_PAGES.get(code, ERROR_PAGES[500])
    return render_template("errors/error.html", code=code, title=title, hint=hint, detail=detail), code


def init_app(app: Flask) -> None:
    """Register translated error pages; no traceback or raw message ever reaches a page."""

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return _render_error(
            400, str(_l("The form had expired or was sent twice. Reload the page and send it again."))
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        return _render_error(error.code)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        # Log the type and the frames only: messages (SQL parameters, values)
        # may carry personal data.
        frames = "".join(traceback.format_tb(error.__traceback__)).replace("\n", " | ")
        log.error("unhandled %s at %s", type(error).__name__, frames)
        return _render_error(InternalServerError.code)
