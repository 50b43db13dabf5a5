"""`flask launcher install|remove`: a launcher that starts the app and opens the browser on it.

Linux: a freedesktop desktop entry in the applications menu
(`$XDG_DATA_HOME/applications/workshops.desktop`) and a copy on the desktop folder (from
`user-dirs.dirs`), running `scripts/workshops-start.sh` in a terminal window, where
"Ctrl+C to stop" shows. Windows: a `.cmd` file on the desktop calling
`scripts\\workshops-start.cmd` (no `.lnk`, no admin rights). Both scripts live in the
repository and run `flask serve --open-browser` from it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

import click
from flask.cli import AppGroup

try:
    import winreg
except ImportError:  # not Windows
    winreg = None

ROOT = Path(__file__).resolve().parent.parent.parent
ENTRY_NAME = "workshops.desktop"
WINDOWS_NAME = "Ateliers.cmd"
SYSTEMS = ("linux", "windows")

launcher = AppGroup("launcher", help="Put a launcher for the app in the menu and on the desktop.")


@dataclass(frozen=True)
class LauncherFile:
    path: Path
    content: str
    executable: bool


# ---------- Linux ----------

def exec_quote(argument: str) -> str:
    """One argument of a desktop entry's Exec key: double-quoted with the spec's escapes
    (then `%` doubled, and the string-value escape of backslashes)."""
    quoted = "".join("\\" + char if char in '"`$\\' else char for char in argument)
    return ('"' + quoted + '"').replace("%", "%%").replace("\\", "\\\\")


def value_escape(text: str) -> str:
    """A desktop entry string value (Path, Icon): backslashes and control characters escaped."""
    return (text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
            .replace("\r", "\\r"))


def desktop_entry(root: Path) -> str:
    script = root / "scripts" / "workshops-start.sh"
    icon = root / "static" / "img" / "favicon.svg"
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.0",
        "Name=Ateliers",
        "Name[en]=Workshops",
        "GenericName=Ateliers numériques",
        "GenericName[en]=Digital workshops",
        "Comment=Démarrer l'application des ateliers et l'ouvrir dans le navigateur "
        "(Ctrl+C dans la fenêtre pour l'arrêter)",
        "Comment[en]=Start the workshops app and open it in the browser "
        "(Ctrl+C in the window to stop it)",
        f"Exec={exec_quote(str(script))}",
        f"Path={value_escape(str(root))}",
        f"Icon={value_escape(str(icon))}",
        "Terminal=true",
        "Categories=Office;",
        "StartupNotify=false",
        "",
    ])


def data_home(env: dict[str, str]) -> Path:
    value = env.get("XDG_DATA_HOME", "")
    # The spec: a relative value is invalid and is ignored.
    if value and Path(value).is_absolute():
        return Path(value)
    return Path(env.get("HOME", str(Path.home()))) / ".local" / "share"


def linux_desktop_dir(env: dict[str, str]) -> Path | None:
    """The desktop folder of `user-dirs.dirs` (what `xdg-user-dir DESKTOP` reads; that script
    breaks on a path with a space, so the file is read here), else ~/Desktop; None when the
    folder does not exist or is the home folder itself."""
    home = Path(env.get("HOME") or str(Path.home()))
    config = env.get("XDG_CONFIG_HOME", "")
    config_home = Path(config) if config and Path(config).is_absolute() else home / ".config"
    folder = home / "Desktop"
    with contextlib.suppress(OSError, UnicodeDecodeError):
        for line in (config_home / "user-dirs.dirs").read_text(encoding="utf-8").splitlines():
            name, _sep, value = line.strip().partition("=")
            if name == "XDG_DESKTOP_DIR" and len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1].replace('\\"', '"')
                if value.startswith("$HOME"):
                    folder = home / value.removeprefix("$HOME").lstrip("/")
                elif value.startswith("/"):
                    folder = Path(value)
    if not folder.is_dir() or folder == home:
        return None
    return folder


def linux_files(root: Path, env: dict[str, str], desktop: Path | None) -> list[LauncherFile]:
    entry = desktop_entry(root)
    files = [LauncherFile(data_home(env) / "applications" / ENTRY_NAME, entry, False)]
    if desktop is not None:
        # Executable: desktops refuse to launch an entry on the desktop that is not.
        files.append(LauncherFile(desktop / ENTRY_NAME, entry, True))
    return files


# ---------- Windows ----------

def cmd_quote(path: str, profile: str | None) -> str:
    """A path for a .cmd file: under the user's profile it is written from %USERPROFILE% (an
    accent in the user name then never meets the console's code page); `%` doubled."""
    rest = None
    if profile:
        with contextlib.suppress(ValueError):
            rest = PureWindowsPath(path).relative_to(PureWindowsPath(profile))
    if rest is not None:
        return '"%USERPROFILE%\\' + str(rest).replace("%", "%%") + '"'
    return '"' + path.replace("%", "%%") + '"'


def windows_shortcut(root: PureWindowsPath | Path, profile: str | None) -> str:
    script = str(PureWindowsPath(root) / "scripts" / "workshops-start.cmd")
    return "\r\n".join([
        "@echo off",
        "rem Ateliers: starts the app and opens the browser on it (flask launcher install).",
        "rem Ctrl+C in the window stops it.",
        # Lines after this one are read as UTF-8 (a path with accents).
        "chcp 65001 >nul",
        f"call {cmd_quote(script, profile)} %*",
        "",
    ])


def windows_desktop_dir(env: dict[str, str]) -> Path:
    """The user's desktop folder (it may live in OneDrive): the registry's User Shell Folders,
    else %USERPROFILE%\\Desktop."""
    if winreg is not None:
        key_path = r"Software\Microsoft\Windows\CurrentVersion\Explorer\User Shell Folders"
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key_path) as key:
                value, _kind = winreg.QueryValueEx(key, "Desktop")
            return Path(os.path.expandvars(value))
        except OSError:
            pass
    return Path(env.get("USERPROFILE") or env.get("HOME") or str(Path.home())) / "Desktop"


def windows_files(root: PureWindowsPath | Path, env: dict[str, str], desktop: Path) -> list[LauncherFile]:
    return [LauncherFile(desktop / WINDOWS_NAME, windows_shortcut(root, env.get("USERPROFILE")), False)]


# ---------- both ----------

def current_system() -> str:
    return "windows" if sys.platform.startswith("win") else "linux"


def plan(system: str, root: Path = ROOT, env: dict[str, str] | None = None,
         desktop: Path | None = None) -> list[LauncherFile]:
    """The files `install` writes (and `remove` removes) for this system."""
    env = dict(os.environ if env is None else env)
    if system == "windows":
        return windows_files(root, env, desktop or windows_desktop_dir(env))
    return linux_files(root, env, desktop or linux_desktop_dir(env))


def write(files: list[LauncherFile]) -> None:
    for item in files:
        item.path.parent.mkdir(parents=True, exist_ok=True)
        with open(item.path, "w", encoding="utf-8", newline="") as handle:
            handle.write(item.content)
        if item.executable:
            item.path.chmod(0o755)


def trust(path: Path) -> None:
    """GNOME (Ubuntu) launches a desktop-folder entry only once trusted: mark it (best effort)."""
    tool = shutil.which("gio")
    if tool is None:
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run([tool, "set", str(path), "metadata::trusted", "true"],  # noqa: S603
                       capture_output=True, timeout=10, check=False)


system_option = click.option("--system", "system", type=click.Choice(SYSTEMS), default=None,
                             help="Which launcher to make (default: this computer's system).")
desktop_option = click.option("--desktop", type=click.Path(file_okay=False, path_type=Path), default=None,
                              help="The desktop folder (default: the user's own).")


@launcher.command("install")
@click.option("--dry-run", is_flag=True, help="Say what would be written, write nothing.")
@system_option
@desktop_option
def install_command(dry_run: bool, system: str | None, desktop: Path | None) -> None:
    """Write the launcher: the menu entry and desktop icon (Linux), a desktop shortcut (Windows)."""
    system = system or current_system()
    files = plan(system, desktop=desktop)
    for item in files:
        click.echo(f"{'Would write' if dry_run else 'Writing'} {item.path}")
    if dry_run:
        click.echo(files[0].content)
        return
    write(files)
    for item in files:
        if item.executable and system == "linux":
            trust(item.path)
    start = ROOT / "scripts" / ("workshops-start.cmd" if system == "windows" else "workshops-start.sh")
    if not start.is_file():
        click.echo(f"Warning: {start} is missing: the launcher will not start the app.", err=True)
    click.echo("Done: open \"Ateliers\" from the applications menu or the desktop; "
               "Ctrl+C in its window stops the app.")


@launcher.command("remove")
@system_option
@desktop_option
def remove_command(system: str | None, desktop: Path | None) -> None:
    """Remove what `flask launcher install` wrote."""
    for item in plan(system or current_system(), desktop=desktop):
        if item.path.is_file():
            item.path.unlink()
            click.echo(f"Removed {item.path}")
        else:
            click.echo(f"Nothing at {item.path}")
