"""Is the disk holding the app's data encrypted? (R49: full-disk encryption is a prerequisite.)

Linux: `lsblk` lists the block devices as a tree; the folder's file system is encrypted when
the device it is mounted from sits on a `crypt` device (LUKS/dm-crypt, LVM on LUKS included).
Windows: `manage-bde -status C:` (BitLocker; needs an administrator, else "unknown").
macOS: `fdesetup status` (FileVault). Anything else, a file system not found in the tree (a
container, a network share) or a command that fails: "unknown". The command runner is a
parameter, so tests give their own.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Callable
from pathlib import Path

ENCRYPTED = "encrypted"
UNENCRYPTED = "unencrypted"
UNKNOWN = "unknown"

Runner = Callable[[list[str]], str | None]


def run_command(args: list[str]) -> str | None:
    """The standard output of a command, or None when it is missing, fails or hangs."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=10, check=False)  # noqa: S603 (fixed commands)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def mount_point(path: Path) -> Path:
    """The mount point of the file system holding `path`."""
    path = Path(os.path.realpath(path))
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


def disk_encryption(path: Path, *, runner: Runner = run_command, system: str | None = None) -> str:
    """ENCRYPTED, UNENCRYPTED or UNKNOWN for the disk holding `path`."""
    system = system or platform.system()
    if system == "Linux":
        return _linux(path, runner)
    if system == "Windows":
        return _bitlocker(path, runner)
    if system == "Darwin":
        return _filevault(runner)
    return UNKNOWN


def _linux(path: Path, runner: Runner) -> str:
    output = runner(["lsblk", "--json", "--output", "NAME,TYPE,MOUNTPOINT"])
    if not output:
        return UNKNOWN
    try:
        devices = json.loads(output)["blockdevices"]
    except (ValueError, KeyError, TypeError):
        return UNKNOWN
    chain = _chain_to(devices, str(mount_point(path)), [])
    if chain is None:
        return UNKNOWN
    return ENCRYPTED if "crypt" in chain else UNENCRYPTED


def _chain_to(devices: list[dict], mount: str, above: list[str]) -> list[str] | None:
    """The device types from a disk down to the device mounted at `mount` (None: not found)."""
    for device in devices or []:
        chain = [*above, str(device.get("type"))]
        if device.get("mountpoint") == mount:
            return chain
        found = _chain_to(device.get("children") or [], mount, chain)
        if found is not None:
            return found
    return None


def _bitlocker(path: Path, runner: Runner) -> str:
    drive = Path(path).resolve().drive or "C:"
    output = runner(["manage-bde", "-status", drive])
    if not output:
        return UNKNOWN
    text = output.lower()
    if "protection off" in text or "protection désactivée" in text:
        return UNENCRYPTED
    if "protection on" in text or "protection activée" in text:
        return ENCRYPTED
    return UNKNOWN


def _filevault(runner: Runner) -> str:
    output = runner(["fdesetup", "status"])
    if not output:
        return UNKNOWN
    if "FileVault is On" in output:
        return ENCRYPTED
    if "FileVault is Off" in output:
        return UNENCRYPTED
    return UNKNOWN
