"""R54: the dependencies are installed from requirements.lock, exact versions with hashes."""

from __future__ import annotations

import configparser
import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def declared() -> list[Requirement]:
    """install_requires and every extra of setup.cfg."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    lines = config["options"]["install_requires"].splitlines()
    for extra in config["options.extras_require"].values():
        lines += extra.splitlines()
    return [Requirement(line) for line in lines if line.strip()]


def locked() -> dict[str, tuple[str, int]]:
    """Name -> (version, number of hashes) of every pin in requirements.lock."""
    pins: dict[str, tuple[str, int]] = {}
    name = None
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if match := PIN.match(line):
            name = canonicalize_name(match[1])
            pins[name] = (match[2], 0)
        elif name and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[name]
            pins[name] = (version, hashes + 1)
    return pins


def test_every_declared_dependency_is_pinned_in_the_lock_within_its_range():
    pins = locked()
    missing = [str(r) for r in declared() if canonicalize_name(r.name) not in pins]
    assert missing == [], f"not in requirements.lock (run `make lock`): {missing}"
    outside = [f"{r} locked at {pins[canonicalize_name(r.name)][0]}" for r in declared()
               if not r.specifier.contains(pins[canonicalize_name(r.name)][0], prereleases=True)]
    assert outside == [], f"requirements.lock is older than setup.cfg (run `make lock`): {outside}"


def test_every_pin_carries_a_hash():
    unhashed = [name for name, (_, hashes) in locked().items() if hashes == 0]
    assert locked() and unhashed == []


def test_the_environment_running_the_tests_was_installed_from_the_lock():
    drift = []
    for name, (version, _) in locked().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            drift.append(f"{name} is not installed")
            continue
        if installed != version:
            drift.append(f"{name} {installed} installed, {version} locked")
    assert drift == [], f"run `make install`: {drift}"
