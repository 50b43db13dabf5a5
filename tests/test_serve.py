"""`flask serve` (R51): the laptop's app listens on the loopback interface unless told otherwise,
and says so plainly when told otherwise."""

from __future__ import annotations

import socket
from pathlib import Path

from workshops.backup import serverlock
from workshops.core import cli


def test_serve_listens_on_127_0_0_1_by_default_and_warns_otherwise(app, runner, monkeypatch):
    served = []
    monkeypatch.setattr(cli, "serve", lambda wsgi_app, **options: served.append(options))
    result = runner.invoke(args=["serve", "--port", "5123"])
    assert result.exit_code == 0, result.output
    assert served[-1]["host"] == "127.0.0.1" and served[-1]["port"] == 5123
    assert "other machines of this network" not in result.output
    result = runner.invoke(args=["serve", "--host", "192.168.1.20"])
    assert served[-1]["host"] == "192.168.1.20"
    assert "Warning: listening on 192.168.1.20, so other machines of this network" in result.output
    assert serverlock.lock_path(Path(app.config["DATABASE_URL"].removeprefix("sqlite:///"))).exists()


def test_a_second_start_on_a_busy_port_says_so_without_a_traceback(app, runner):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(args=["serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"port {port} is already in use" in result.output
    assert f"open http://127.0.0.1:{port}/" in result.output and "Traceback" not in result.output
    assert "is ready" not in result.output, "never ready on a port it could not take"
    with serverlock.exclusive(Path(app.config["DATABASE_URL"].removeprefix("sqlite:///"))):
        pass  # the server lock was let go: a restore could take it now
