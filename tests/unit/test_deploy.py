"""Production headers and settings (issue 9, item 5): `check --deploy` is clean with the settings README documents
and compose.yaml uses; every page carries a Content-Security-Policy that the templates can live with."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_VARIABLES = {
    "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL",
    "SESSION_COOKIE_SECURE", "SESSION_COOKIE_AGE", "SECURE_SSL_REDIRECT", "SECURE_PROXY_SSL_HEADER",
    "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "LOGIN_FAILURE_LIMIT",
    "LOGIN_LOCKOUT_MINUTES", "DJANGO_ALLOW_ASYNC_UNSAFE",  # the last: set by the browser tests, refused by check
}  # fmt: skip
COMPOSE_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?P<op>:-|-|:\?)(?P<default>[^}]*)\}")


def _run(tmp_path: Path, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if key not in SETTINGS_VARIABLES}
    clean.update(DJANGO_SETTINGS_MODULE="portal.settings", PORTAL_VAR_DIR=str(tmp_path), **env)
    return subprocess.run([sys.executable, *argv], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)


def _check_deploy(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return _run(tmp_path, env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")


def readme_production_settings() -> dict[str, str]:
    section = (ROOT / "README.md").read_text().split("### Production settings", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    settings = dict(line.split("=", 1) for line in block.splitlines() if line.strip())
    settings["SECRET_KEY"] = secrets.token_urlsafe(50)  # README: "<50 or more random characters>"
    return settings


def compose_settings() -> dict[str, str]:
    """The app services' environment as compose resolves it with nothing set but SECRET_KEY."""
    environment = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["web"]["environment"]
    given = {"SECRET_KEY": secrets.token_urlsafe(50)}

    def resolve(match: re.Match[str]) -> str:
        return given[match["name"]] if match["op"] == ":?" else given.get(match["name"], match["default"])

    return {name: COMPOSE_VARIABLE.sub(resolve, str(value)) for name, value in environment.items()}


def test_check_deploy_is_clean_with_the_readme_production_settings(tmp_path):
    result = _check_deploy(tmp_path, readme_production_settings())
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_is_clean_with_composes_environment(tmp_path):
    settings = compose_settings()
    assert settings["SESSION_COOKIE_SECURE"] == "true"
    assert settings["SECURE_SSL_REDIRECT"] == "true"
    result = _check_deploy(tmp_path, settings)
    assert result.returncode == 0, result.stderr + result.stdout


def test_check_deploy_warns_without_them(tmp_path):
    result = _check_deploy(tmp_path, {"DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50)})
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


def test_security_settings_come_from_the_environment(tmp_path):
    env = {
        "DEBUG": "true", "SESSION_COOKIE_AGE": "3600", "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
        "SECURE_HSTS_SECONDS": "60", "LOGIN_FAILURE_LIMIT": "3", "LOGIN_LOCKOUT_MINUTES": "0",
    }  # fmt: skip
    show = (
        "import json, django; from django.conf import settings as s; django.setup(); print(json.dumps(["
        "s.SESSION_COOKIE_AGE, s.SESSION_SAVE_EVERY_REQUEST, s.SECURE_PROXY_SSL_HEADER, s.SECURE_HSTS_SECONDS, "
        "s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME, s.SECURE_SSL_REDIRECT]))"
    )
    result = _run(tmp_path, env, "-c", show)
    assert json.loads(result.stdout) == [3600, True, ["HTTP_X_FORWARDED_PROTO", "https"], 60, 3, None, False]
    broken = _run(tmp_path, {"DEBUG": "true", "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO"}, "-c", show)
    assert "SECURE_PROXY_SSL_HEADER is a header and its value" in broken.stderr


@pytest.mark.django_db
def test_every_answer_has_the_content_security_policy(client, admin):
    from tests.conftest import login

    for response in (client.get("/login/"), login(admin).get("/users/"), client.get("/no-such-page/")):
        policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
        assert policy["default-src"] == policy["script-src"] == policy["style-src"] == "'self'"
        assert policy["object-src"] == policy["base-uri"] == policy["frame-ancestors"] == "'none'"
        assert "unsafe" not in response["Content-Security-Policy"]


INLINE = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")|\son[a-z]+=|\sstyle=|<style", re.I)


def test_templates_have_no_inline_script_handler_or_style():
    """What the policy would refuse: a <script> without src (JSON data blocks are not run), on*= handlers, style."""
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()[:80]}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if INLINE.search(line)
    ]
    assert found == []
