"""The launcher (`flask launcher install|remove`), the start scripts, and stopping the app cleanly:
Ctrl+C, closing the terminal window (SIGHUP) or SIGTERM must release the server lock and leave
the database with its WAL folded in."""

from __future__ import annotations

import configparser
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path, PureWindowsPath

import pytest

from workshops.backup import serverlock
from workshops.core import launcher

ROOT = Path(__file__).resolve().parent.parent
FLASK = Path(sys.executable).parent / "flask"
START_SH = ROOT / "scripts" / "workshops-start.sh"
START_CMD = ROOT / "scripts" / "workshops-start.cmd"


# ---------- the desktop entry ----------

def read_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive (Name, Name[en])
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


STRING_ESCAPES = {"\\": "\\", "s": " ", "n": "\n", "t": "\t", "r": "\r"}


def exec_arguments(value: str) -> list[str]:
    """Read an Exec value as a desktop environment does (the Desktop Entry Specification):
    the string escapes first, then the arguments, double-quoted ones with their backslash
    escapes of `"`, backquote, `$` and backslash; `%%` is a literal `%`."""
    text, index = "", 0
    while index < len(value):
        if value[index] == "\\" and index + 1 < len(value):
            text += STRING_ESCAPES.get(value[index + 1], "\\" + value[index + 1])
            index += 2
        else:
            text += value[index]
            index += 1
    arguments, current, quoted, index = [], None, False, 0
    while index < len(text):
        char = text[index]
        if quoted and char == "\\" and text[index + 1] in '"`$\\':
            current += text[index + 1]
            index += 1
        elif char == '"':
            quoted = not quoted
            current = current or ""
        elif char == " " and not quoted:
            if current is not None:
                arguments.append(current)
            current = None
        else:
            current = (current or "") + char
        index += 1
    assert not quoted, "an unclosed quote"
    if current is not None:
        arguments.append(current)
    return [argument.replace("%%", "%") for argument in arguments]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A user's home with its own XDG folders (nothing written in the real one)."""
    home = tmp_path / "maison de Hélène"
    (home / ".config").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "données"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    return home


def with_desktop_folder(home: Path, name: str = "Bureau") -> Path:
    (home / ".config" / "user-dirs.dirs").write_text(f'XDG_DESKTOP_DIR="$HOME/{name}"\n', encoding="utf-8")
    (home / name).mkdir()
    return home / name


def test_the_desktop_entry_is_valid_and_quotes_a_path_with_spaces_and_accents(tmp_path):
    root = tmp_path / "Mes documents" / 'ateliers $été "2025" 100% `a` \\ fin'
    path = tmp_path / "workshops.desktop"
    path.write_text(launcher.desktop_entry(root), encoding="utf-8")
    entry = read_entry(path)
    assert entry["Type"] == "Application"
    assert entry["Terminal"] == "true"
    assert entry["Name"] == "Ateliers" and entry["Name[en]"] == "Workshops"
    assert "Ctrl+C" in entry["Comment"] and "navigateur" in entry["Comment"]
    assert exec_arguments(entry["Exec"]) == [str(root / "scripts" / "workshops-start.sh")]


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-utils is not installed")
def test_desktop_file_validate_finds_no_error(tmp_path):
    path = tmp_path / "workshops.desktop"
    path.write_text(launcher.desktop_entry(tmp_path / "Mes documents" / "ateliers été"), encoding="utf-8")
    result = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


def test_install_writes_the_menu_entry_in_xdg_data_home(app, home):
    result = app.test_cli_runner().invoke(launcher.launcher, ["install", "--system", "linux"])
    assert result.exit_code == 0, result.output
    path = home / "données" / "applications" / "workshops.desktop"
    entry = read_entry(path)
    assert entry["Type"] == "Application" and entry["Terminal"] == "true"
    assert exec_arguments(entry["Exec"]) == [str(START_SH)]
    assert Path(entry["Icon"]).is_file() and Path(entry["Icon"]).suffix == ".svg"
    assert Path(entry["Path"]) == ROOT
    assert str(path) in result.output


def test_install_puts_an_executable_copy_in_the_desktop_folder_of_user_dirs(app, home):
    desktop = with_desktop_folder(home, "Bureau")
    result = app.test_cli_runner().invoke(launcher.launcher, ["install", "--system", "linux"])
    assert result.exit_code == 0, result.output
    copy = desktop / "workshops.desktop"
    assert copy.read_text(encoding="utf-8") == (home / "données/applications/workshops.desktop").read_text(
        encoding="utf-8")
    assert os.access(copy, os.X_OK)


def test_without_user_dirs_the_desktop_folder_is_desktop(home):
    env = {"HOME": str(home), "XDG_DATA_HOME": str(home / "données")}
    assert launcher.plan("linux", env=env)[1:] == []  # no desktop folder: the menu entry only
    (home / "Desktop").mkdir()
    files = launcher.plan("linux", env=env)
    assert [item.path for item in files] == [home / "données/applications/workshops.desktop",
                                             home / "Desktop/workshops.desktop"]


def test_a_relative_xdg_data_home_is_ignored(home):
    env = {"HOME": str(home), "XDG_DATA_HOME": "relative/share"}
    assert launcher.plan("linux", env=env)[0].path == home / ".local/share/applications/workshops.desktop"


def test_dry_run_writes_nothing(app, home):
    desktop = with_desktop_folder(home, "Bureau")
    result = app.test_cli_runner().invoke(launcher.launcher, ["install", "--dry-run", "--system", "linux"])
    assert result.exit_code == 0, result.output
    assert "Would write" in result.output and "[Desktop Entry]" in result.output
    assert not (home / "données").exists()
    assert list(desktop.iterdir()) == []


def test_remove_removes_what_install_wrote(app, home):
    desktop = home / "Bureau"
    desktop.mkdir()
    runner = app.test_cli_runner()
    args = ["--system", "linux", "--desktop", str(desktop)]
    assert runner.invoke(launcher.launcher, ["install", *args]).exit_code == 0
    written = [home / "données/applications/workshops.desktop", desktop / "workshops.desktop"]
    assert all(path.is_file() for path in written)
    result = runner.invoke(launcher.launcher, ["remove", *args])
    assert result.exit_code == 0, result.output
    assert not any(path.exists() for path in written)
    assert result.output.count("Removed") == 2


# ---------- Windows ----------

def test_the_windows_shortcut_calls_the_start_script_from_the_user_profile():
    root = PureWindowsPath(r"C:\Users\Hélène\Mes documents\ateliers 100%")
    content = launcher.windows_shortcut(root, r"C:\Users\Hélène")
    lines = content.split("\r\n")
    assert "\n" not in content.replace("\r\n", "")
    assert lines[0] == "@echo off"
    # The accent of the user name is never written: %USERPROFILE% says it.
    call = 'call "%USERPROFILE%\\Mes documents\\ateliers 100%%\\scripts\\workshops-start.cmd" %*'
    assert call in lines
    assert lines.index("chcp 65001 >nul") < lines.index(call)


def test_the_windows_shortcut_outside_the_profile_keeps_its_path_quoted():
    content = launcher.windows_shortcut(PureWindowsPath(r"D:\Ateliers été\workshops"), r"C:\Users\Léa")
    assert 'call "D:\\Ateliers été\\workshops\\scripts\\workshops-start.cmd" %*' in content.split("\r\n")


def test_install_forced_to_windows_writes_the_cmd_on_the_desktop(app, tmp_path, monkeypatch):
    desktop = tmp_path / "OneDrive" / "Bureau"
    desktop.mkdir(parents=True)
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    runner = app.test_cli_runner()
    result = runner.invoke(launcher.launcher, ["install", "--system", "windows", "--desktop", str(desktop)])
    assert result.exit_code == 0, result.output
    shortcut = desktop / "Ateliers.cmd"
    assert shortcut.read_bytes().startswith(b"@echo off\r\n")
    script = str(PureWindowsPath(ROOT / "scripts" / "workshops-start.cmd"))
    assert script in shortcut.read_text(encoding="utf-8")
    result = runner.invoke(launcher.launcher, ["remove", "--system", "windows", "--desktop", str(desktop)])
    assert result.exit_code == 0, result.output
    assert not shortcut.exists()


def test_the_windows_start_script_serves_from_the_repository():
    data = START_CMD.read_bytes()
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF throughout (cmd.exe needs it)
    lines = data.decode("utf-8").split("\r\n")
    assert lines[0] == "@echo off"
    assert 'cd /d "%~dp0.."' in lines
    assert '".venv\\Scripts\\flask.exe" serve --open-browser %*' in lines
    assert any("WEASYPRINT_DLL_DIRECTORIES=C:\\msys64\\mingw64\\bin" in line for line in lines)


# ---------- starting and stopping ----------

@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    """A database at the migration head, made once and copied by each test."""
    folder = tmp_path_factory.mktemp("migrated")
    env = server_env(folder / "instance", folder / "workshops.sqlite")
    subprocess.run([str(FLASK), "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True,
                   timeout=120)
    return folder / "workshops.sqlite"


def server_env(instance: Path, database: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("WORKSHOPS_", "FLASK_"))}
    env.update(WORKSHOPS_INSTANCE_PATH=str(instance), WORKSHOPS_DATABASE_URL=f"sqlite:///{database}",
               PYTHONUNBUFFERED="1")
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A started process whose output is read in a thread, once it answers on its port."""

    def __init__(self, command: list[str], env: dict[str, str], port: int):
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + 60
        # It says "ready" just before waitress listens: wait for an answer.
        while not answers(port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.kill()
                pytest.fail("the app never answered:\n" + "".join(self.lines))
            time.sleep(0.1)

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)

    def output(self) -> str:
        self.reader.join(5)
        return "".join(self.lines)

    def kill(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.reader.join(5)
        self.process.stdout.close()


@pytest.fixture
def instance(tmp_path, migrated):
    folder = tmp_path / "données"
    folder.mkdir()
    shutil.copy(migrated, folder / "workshops.sqlite")
    return folder


@pytest.fixture
def start(instance):
    started = []

    def start(command: list[str]) -> tuple[Server, int]:
        port = free_port()
        server = Server([*command, "--no-browser", "--port", str(port)],
                        server_env(instance, instance / "workshops.sqlite"), port)
        started.append(server)
        return server, port

    yield start
    for server in started:
        server.kill()


def login_page(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as response:
        return response.status


def answers(port: int) -> bool:
    try:
        login_page(port)
    except OSError:
        return False
    return True


def assert_stopped_cleanly(instance: Path, port: int, deadline: float) -> None:
    """The server gone, its lock free, the WAL folded into the database file."""
    database = instance / "workshops.sqlite"
    while time.monotonic() < deadline and answers(port):
        time.sleep(0.1)
    assert not answers(port)
    with serverlock.exclusive(database):
        pass  # raises ServerRunning while a server holds the lock
    wal = database.with_name(database.name + "-wal")
    while time.monotonic() < deadline and wal.exists():
        time.sleep(0.1)
    assert not wal.exists(), "the WAL was left beside the database (not checkpointed)"
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA quick_check").fetchone() == ("ok",)
        assert connection.execute("SELECT count(*) FROM audit_entries").fetchone()[0] > 0
    connection.close()


@pytest.mark.parametrize("signum", [
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
], ids=["ctrl-c", "sigterm", "sighup"])
def test_serve_stops_cleanly_on_a_signal(start, instance, signum):
    server, port = start([str(FLASK), "serve"])
    assert login_page(port) == 200
    server.process.send_signal(signum)
    server.process.wait(10)
    assert server.process.returncode == 0, server.output()
    assert_stopped_cleanly(instance, port, time.monotonic() + 5)


def test_the_start_script_serves_and_ctrl_c_stops_it_then_it_starts_again(start, instance):
    assert os.access(START_SH, os.X_OK)
    server, port = start([str(START_SH)])
    assert "Ctrl+C" in "".join(server.lines)  # the line before "ready"
    assert login_page(port) == 200
    # Ctrl+C in a terminal signals the whole foreground group: the script and flask.
    os.killpg(server.process.pid, signal.SIGINT)
    assert server.process.wait(10) == 0, server.output()
    assert_stopped_cleanly(instance, port, time.monotonic() + 5)
    again, port = start([str(START_SH)])
    assert login_page(port) == 200


def test_closing_the_terminal_window_stops_the_app_cleanly(start, instance):
    server, port = start([str(START_SH)])
    assert login_page(port) == 200
    # A closed terminal window hangs up: SIGHUP to the script and to flask.
    os.killpg(server.process.pid, signal.SIGHUP)
    server.process.wait(10)
    assert_stopped_cleanly(instance, port, time.monotonic() + 5)


def test_flask_launcher_is_a_command_of_the_app(home):
    result = subprocess.run([str(FLASK), "launcher", "install", "--dry-run", "--system", "linux"], cwd=ROOT,
                            env={**os.environ, "HOME": str(home)}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "workshops.desktop" in result.stdout
