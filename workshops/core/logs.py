"""Application logs (R42): one event per line, UTC, no personal data, one file per day.

Every log record of the process, ours and the libraries', is cleaned when it is made (a
record factory): e-mail addresses, phone numbers (French and E.164 forms) and secret tokens
are masked, query strings of logged request lines are dropped (a family search is `?q=...`),
and line breaks and other control characters are escaped, so a typed name can neither
forge a log line nor land in the logs whole. Files live in instance/logs, named by their UTC
day (`workshops-YYYY-MM-DD.log`); the retention job removes those older than
LOG_RETENTION_DAYS (they are never renamed, so several processes can append safely).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask

FILE_PREFIX = "workshops-"
FILE_SUFFIX = ".log"
LINE_FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE_FR = re.compile(r"(?<![\w+])(?:(?:\+|00)33[\s.-]?(?:\(0\))?[\s.-]?|0)[1-9](?:[\s.-]?\d{2}){4}(?!\w)")
_PHONE_E164 = re.compile(r"(?<![\w+])(?:\+|00)[1-9](?:[\s.-]?\d){6,14}(?!\w)")
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-])"
# Session, device and import tokens are url-safe random strings of 32 characters or more.
_TOKEN = re.compile(rf"(?<![\w-])(?!{_UUID})[A-Za-z0-9_-]{{32,}}")
_AUTHORIZATION = re.compile(r"\b(Device|Bearer|Pairing)\s+\S+", re.IGNORECASE)
# A request line as servers log it: "GET /families?q=Dupont HTTP/1.1".
_QUERY = re.compile(r"((?:GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) /[^\s?\"]*)\?[^\s\"]*")
# Terminal colours (the development server paints its request lines).
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029\\]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def escape_controls(text: str) -> str:
    """Line breaks and other control characters as visible escapes (one event, one line)."""
    return _CONTROL.sub(lambda m: _ESCAPES.get(m.group(), f"\\x{ord(m.group()):02x}"
                                               if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}"),
                        text)


def mask(text: str) -> str:
    """The text with e-mails, phone numbers, tokens and query strings masked."""
    text = _QUERY.sub(r"\1?[query removed]", _ANSI.sub("", text))
    text = _AUTHORIZATION.sub(r"\1 [token]", text)
    text = _EMAIL.sub("[email]", text)
    text = _TOKEN.sub("[token]", text)
    text = _PHONE_FR.sub("[phone]", text)
    return _PHONE_E164.sub("[phone]", text)


def clean(text: str) -> str:
    """What any log message becomes: masked, then escaped."""
    return escape_controls(mask(text))


_base_factory = logging.getLogRecordFactory()


def _clean_record_factory(*args, **kwargs) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # arguments that do not fit the format: keep both, cleaned
        message = f"{record.msg} {record.args}"
    record.msg, record.args = clean(message), None
    return record


class UTCFormatter(logging.Formatter):
    """ISO timestamps in UTC; the whole line (tracebacks included) escaped onto one line."""

    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        return escape_controls(mask(super().format(record)))


class DailyFileHandler(logging.Handler):
    """Appends to instance/logs/workshops-<UTC day>.log, opening the next file at midnight UTC."""

    def __init__(self) -> None:
        super().__init__()
        self.directory: Path | None = None
        self._day = ""
        self._stream = None
        self._guard = threading.Lock()

    def use_directory(self, directory: Path) -> None:
        """Write into `directory` from now on (made owner-only if missing)."""
        with self._guard:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._close()
            self.directory = directory

    def _close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        self._stream, self._day = None, ""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
            with self._guard:
                if self.directory is None:
                    return
                day = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%d")
                if day != self._day:
                    self._close()
                    path = self.directory / f"{FILE_PREFIX}{day}{FILE_SUFFIX}"
                    self._stream = path.open("a", encoding="utf-8")
                    self._day = day
                self._stream.write(line)
                self._stream.flush()
        except Exception:  # noqa: BLE001 (logging must never break the app)
            self.handleError(record)

    def close(self) -> None:
        with self._guard:
            self._close()
        super().close()


_handler = DailyFileHandler()


def log_dir(app: Flask) -> Path:
    """Where the app writes its logs: instance/logs."""
    return Path(app.instance_path) / "logs"


def log_files(directory: Path) -> list[tuple[Path, datetime]]:
    """The log files of a directory with the UTC day each one covers, oldest first."""
    found = []
    for path in directory.glob(f"{FILE_PREFIX}*{FILE_SUFFIX}"):
        stamp = path.name.removeprefix(FILE_PREFIX).removesuffix(FILE_SUFFIX)
        try:
            found.append((path, datetime.strptime(stamp, "%Y-%m-%d").replace(tzinfo=UTC)))
        except ValueError:
            continue
    return sorted(found, key=lambda item: item[1])


def init_app(app: Flask) -> None:
    """Clean every record of the process and write them to the app's log directory."""
    if logging.getLogRecordFactory() is not _clean_record_factory:
        logging.setLogRecordFactory(_clean_record_factory)
    _handler.setFormatter(UTCFormatter(LINE_FORMAT, DATE_FORMAT))
    _handler.use_directory(log_dir(app))
    root = logging.getLogger()
    if _handler not in root.handlers:
        root.addHandler(_handler)
    root.setLevel(app.config.get("LOG_LEVEL", "INFO"))
