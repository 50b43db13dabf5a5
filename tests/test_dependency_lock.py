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


def declared(*, extras: bool = True) -> list[Requirement]:
    """install_requires and (unless told otherwise) every extra of setup.cfg."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    lines = config["options"]["install_requires"].splitlines()
    for extra in config["options.extras_require"].values() if extras else ():
        lines += extra.splitlines()
    return [Requirement(line) for line in lines if line.strip()]


def locked(lock: str = "requirements.lock") -> dict[str, tuple[str, int]]:
    """Name -> (version, number of hashes) of every pin of a lock file."""
    pins: dict[str, tuple[str, int]] = {}
    name = None
    for line in (ROOT / lock).read_text(encoding="utf-8").splitlines():
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
    for lock in ("requirements.lock", "requirements-laptop.lock"):
        unhashed = [name for name, (_, hashes) in locked(lock).items() if hashes == 0]
        assert locked(lock) and unhashed == [], lock


def test_a_laptop_installs_the_app_alone_at_the_versions_the_tests_ran_on():
    """requirements-laptop.lock (docs/guide/*/installation.md): every runtime dependency, none of
    the test tools, each at the version of requirements.lock."""
    laptop, everything = locked("requirements-laptop.lock"), locked()
    missing = [str(r) for r in declared(extras=False) if canonicalize_name(r.name) not in laptop]
    assert missing == [], f"not in requirements-laptop.lock (run `make lock`): {missing}"
    assert "pytest" not in laptop and "playwright" not in laptop
    differ = {name: (version, everything.get(name, ("absent",))[0])
              for name, (version, _) in laptop.items() if everything.get(name, ("",))[0] != version}
    assert differ == {}, f"the two locks disagree (run `make lock`): {differ}"


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
