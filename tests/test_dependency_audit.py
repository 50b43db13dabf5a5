"""The CI dependency audit (R54): fails on a known vulnerability, says so when it could check nothing."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("audit_deps", ROOT / ".ci" / "audit_deps.py")
audit_deps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit_deps)

FLASK_VULN = {"name": "flask", "version": "0.12.2", "vulns": [
    {"id": "PYSEC-2018-66", "fix_versions": ["0.12.3"], "aliases": ["CVE-2018-1000656"],
     "description": "..."}]}


def report(*dependencies):
    return json.dumps({"dependencies": list(dependencies), "fixes": []})


def test_a_known_vulnerability_fails():
    clean = {"name": "wtforms", "version": "3.2.1", "vulns": []}
    code, message = audit_deps.verdict(report(FLASK_VULN, clean), "", 1)
    assert code == 1 and "flask 0.12.2: PYSEC-2018-66 (fixed in 0.12.3)" in message


def test_a_clean_audit_passes():
    code, message = audit_deps.verdict(report({"name": "flask", "version": "3.1.0", "vulns": []}), "", 0)
    assert code == 0 and "1 packages, no known vulnerability" in message


def test_unreachable_vulnerability_data_is_said_plainly_and_passes():
    skipped = [{"name": n, "skip_reason": f"Dependency not found on PyPI and could not be audited: {n} (1.0)"}
               for n in ("flask", "jinja2")]
    code, message = audit_deps.verdict(report(*skipped), "", 0)
    assert code == 0 and message.startswith("DEPENDENCY AUDIT NOT RUN")
    code, message = audit_deps.verdict("", "requests.exceptions.ConnectionError: Max retries exceeded", 1)
    assert code == 0 and message.startswith("DEPENDENCY AUDIT NOT RUN")


def test_an_unexplained_tool_failure_fails():
    code, message = audit_deps.verdict("", "Traceback ... KeyError: 'x'", 1)
    assert code == 1 and "KeyError" in message


@pytest.mark.skipif(os.environ.get("WORKSHOPS_AUDIT_NETWORK") != "1" or not shutil.which("pip-audit"),
                    reason="needs pip-audit on PATH and its vulnerability data (WORKSHOPS_AUDIT_NETWORK=1)")
def test_the_audit_fails_on_the_vulnerable_fixture_pin():
    result = subprocess.run([sys.executable, str(ROOT / ".ci" / "audit_deps.py"), "--pip-audit",
                             shutil.which("pip-audit"), "--requirements",
                             str(ROOT / "tests" / "fixtures" / "vulnerable-requirements.txt")],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 1 and "KNOWN VULNERABILITIES" in result.stdout
