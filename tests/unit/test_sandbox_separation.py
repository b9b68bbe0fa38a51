"""The sandbox (sandbox/, the rtc_sandbox package) is the AWS side of the wire and a distribution of its own: the
portal never imports it nor the libraries only it needs, and what the sandbox signs the portal verifies."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from portal.pstn.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_valid
from rtc_sandbox.signing import signed_headers

ROOT = Path(__file__).resolve().parents[2]
# The sandbox, and what requirements.txt no longer installs because only the sandbox needs it.
SANDBOX_ONLY = {"rtc_sandbox", "moto", "flask", "flask_cors"}


def _imported(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return {name.split(".")[0] for name in names}


def test_no_portal_module_imports_the_sandbox_or_its_libraries():
    """Every module under portal/, imports inside functions included (an AST walk, not what one run imports)."""
    found = {
        str(path.relative_to(ROOT)): sorted(_imported(ast.parse(path.read_text())) & SANDBOX_ONLY)
        for path in sorted((ROOT / "portal").rglob("*.py"))
    }
    assert {path: names for path, names in found.items() if names} == {}


def test_the_portal_runtime_never_imports_the_sandbox():
    code = (
        "import django, sys; django.setup(); import portal.urls, portal.core.tasks, portal.core.services; "
        "from django.urls import get_resolver; get_resolver().url_patterns; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('rtc_sandbox', 'moto', 'flask')))"
    )
    env = {"DJANGO_SETTINGS_MODULE": "portal.settings", "SECRET_KEY": "x", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_what_the_sandbox_signs_the_portal_verifies():
    body = b'{"InvocationEventType": "NEW_INBOUND_CALL"}'
    headers = signed_headers("shared-secret", body)
    assert signature_valid("shared-secret", headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], body)


@pytest.mark.parametrize(
    ("signed_with", "signed", "verified"),
    [("another-secret", b"{}", b"{}"), ("shared-secret", b"{}", b'{"changed": true}')],
    ids=["another-secret", "another-body"],
)
def test_a_sandbox_signature_of_something_else_does_not_verify(signed_with, signed, verified):
    headers = signed_headers(signed_with, signed)
    assert not signature_valid("shared-secret", headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], verified)
