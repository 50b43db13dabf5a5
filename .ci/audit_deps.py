"""Dependency audit for CI (R54): pip-audit on the exact versions installed in the project's venv.

Usage: python .ci/audit_deps.py --pip-audit PATH [--requirements FILE]

Without --requirements, the venv running this script is frozen (`pip freeze`) and audited
as pinned, without resolving again. Exit 1 on any known vulnerability (or a tool failure we
cannot explain); exit 0 with a clear message when the vulnerability data could not be
reached at all (CI reaches package indexes only; a mirror that does not serve PyPI's JSON API
makes every package "not found"), since nothing could be checked.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

UNREACHABLE_HINTS = ("ConnectionError", "NameResolutionError", "Max retries exceeded", "timed out",
                     "Temporary failure in name resolution", "Network is unreachable")
NOT_FOUND = "not found on PyPI"


def verdict(stdout: str, stderr: str, returncode: int) -> tuple[int, str]:
    """(exit code, message) from pip-audit's JSON output, its error output and its status."""
    try:
        report = json.loads(stdout) if stdout.strip() else None
    except json.JSONDecodeError:
        report = None
    if report is None:
        if any(hint in stderr for hint in UNREACHABLE_HINTS):
            return 0, ("DEPENDENCY AUDIT NOT RUN: the vulnerability data could not be reached "
                       "(no network to it from this machine). Nothing was checked.")
        return 1, f"pip-audit failed (status {returncode}):\n{stderr.strip()[-2000:]}"
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    if vulnerable:
        def fixed(vuln: dict) -> str:
            return ", ".join(vuln.get("fix_versions") or ["no release yet"])

        lines = [f"  {d['name']} {d['version']}: " + ", ".join(
            f"{v['id']} (fixed in {fixed(v)})" for v in d["vulns"]) for d in vulnerable]
        return 1, "KNOWN VULNERABILITIES in the installed dependencies:\n" + "\n".join(lines)
    skipped = [d for d in dependencies if d.get("skip_reason")]
    audited = len(dependencies) - len(skipped)
    if dependencies and audited == 0 and all(NOT_FOUND in d["skip_reason"] for d in skipped):
        return 0, ("DEPENDENCY AUDIT NOT RUN: the package index reached here does not serve "
                   f"vulnerability data ({len(skipped)} packages 'not found'). Nothing was checked.")
    if returncode != 0:
        return 1, f"pip-audit failed (status {returncode}):\n{stderr.strip()[-2000:]}"
    note = f" ({len(skipped)} skipped: {', '.join(d['name'] for d in skipped)})" if skipped else ""
    return 0, f"Dependency audit: {audited} packages, no known vulnerability{note}."


def frozen_requirements() -> str:
    """The installed distributions of this interpreter's environment, pinned (the project itself left out)."""
    return subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"], check=True,
                          capture_output=True, text=True).stdout


def run(pip_audit: str, requirements: Path) -> tuple[int, str]:
    result = subprocess.run([pip_audit, "--progress-spinner", "off", "--format", "json", "--no-deps",
                             "--disable-pip", "-r", str(requirements)],
                            capture_output=True, text=True, timeout=900)
    return verdict(result.stdout, result.stderr, result.returncode)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pip-audit", required=True, help="path of the pip-audit executable")
    parser.add_argument("--requirements", type=Path, help="audit this pinned file instead of the venv")
    args = parser.parse_args()
    if args.requirements:
        code, message = run(args.pip_audit, args.requirements)
    else:
        with tempfile.TemporaryDirectory() as folder:
            requirements = Path(folder) / "requirements.txt"
            requirements.write_text(frozen_requirements(), encoding="utf-8")
            code, message = run(args.pip_audit, requirements)
    print(message)
    return code


if __name__ == "__main__":
    sys.exit(main())
