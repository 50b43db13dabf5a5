"""Application logs (R42): one event per line, UTC, no phone, e-mail, token or search term."""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import time_machine
from werkzeug.serving import make_server

from workshops.core import logs

CANARIES = ["0601020304", "06 01 02 03 04", "06.01.02.03.04", "+33 6 01 02 03 04", "+33601020304",
            "0033601020304", "+447911123456", "jean.canari@example.org"]
log = logging.getLogger("workshops.tests")


def file_lines(app) -> list[str]:
    return [line for path, _ in logs.log_files(logs.log_dir(app))
            for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_name_with_a_line_break_stays_one_line(app, caplog):
    caplog.set_level(logging.INFO)
    log.warning("family %s checked in", "Dupont\n2026-01-01T00:00:00Z ERROR forged\r\x1b[31m")
    [record] = [r for r in caplog.records if r.name == "workshops.tests"]
    assert "\n" not in record.getMessage() and "\r" not in record.getMessage()
    assert "\x1b" not in record.getMessage() and "\\n2026-01-01" in record.getMessage()
    lines = [line for line in file_lines(app) if "checked in" in line]
    assert len(lines) == 1 and "forged" in lines[0] and "ERROR forged" in lines[0].split("\\n")[1]


def test_an_exception_traceback_is_one_line_in_the_file(app):
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("while importing")
    [line] = [line for line in file_lines(app) if "while importing" in line]
    assert "Traceback" in line and "ValueError" in line


@pytest.mark.parametrize("canary", CANARIES)
def test_phones_and_emails_never_reach_the_logs(app, caplog, canary):
    caplog.set_level(logging.INFO)
    log.info("called %s about the atelier", canary)
    log.info(f"inline {canary} too")
    assert canary not in caplog.text and canary not in "\n".join(file_lines(app))
    assert caplog.text.count("[phone]") + caplog.text.count("[email]") == 2


def test_tokens_are_masked_but_ids_kept(app, caplog):
    caplog.set_level(logging.INFO)
    token, device_token, row_id = secrets.token_urlsafe(32), secrets.token_urlsafe(32), uuid.uuid4()
    log.info("session %s of family %s", token, row_id)
    log.info("Authorization: Device %s", device_token)
    assert token not in caplog.text and device_token not in caplog.text
    assert str(row_id) in caplog.text and "Device [token]" in caplog.text


def test_timestamps_are_utc_and_files_are_named_by_utc_day(app):
    with time_machine.travel("2026-03-02 23:30:00 +0000", tick=False):
        log.warning("late evening in Paris, already the 3rd there")
    [line] = [line for line in file_lines(app) if "late evening" in line]
    assert line.startswith("2026-03-02T23:30:00.000Z WARNING workshops.tests: ")
    assert (logs.log_dir(app) / "workshops-2026-03-02.log").exists()
    assert logs.log_dir(app) == Path(app.instance_path) / "logs"


def test_request_lines_do_not_carry_search_terms(app, caplog):
    caplog.set_level(logging.INFO)
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/families?q=Canari+Dupont&phone=0601020304"
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(url, timeout=10).close()  # noqa: S310 (a local test server)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
    request_lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("GET /families?[query removed]" in line for line in request_lines)
    assert "Canari" not in caplog.text and "0601020304" not in caplog.text
