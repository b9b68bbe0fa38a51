"""Walk every URL pattern: nothing is public but the login page, a Viewer can change nothing, GETs change nothing."""

from __future__ import annotations

import re

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

PUBLIC = {"/login/", "/admin/login/"}
ICON = "/favicon.ico"  # public too: browsers ask for it before anyone logs in
LOGOUT = {"/logout/", "/admin/logout/"}
SIGNED = {"/pstn/sma/"}  # the SMA handler: no login, every invocation HMAC-signed (portal/pstn/signature.py)
ARGUMENT = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")


def _concrete(route: str) -> str:
    def value(match: re.Match[str]) -> str:
        return "1" if match["converter"] == "int" else "x"

    return "/" + ARGUMENT.sub(value, route)


def _walk(patterns: list, prefix: str = "") -> list[str]:
    paths = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            paths.extend(_walk(pattern.url_patterns, route))
        elif isinstance(pattern, URLPattern):
            if route.startswith("^") or "(?P" in route:
                continue  # Django admin's regex patterns are covered by the admin prefix below
            paths.append(_concrete(route))
    return paths


PORTAL_PATHS = sorted(set(_walk(get_resolver().url_patterns)))


def _row_counts() -> dict[str, int]:
    """Every model's rows, counted in one query (a query per model made up half of this file's time)."""
    models = apps.get_models()
    counts = ", ".join(f"(SELECT COUNT(*) FROM {connection.ops.quote_name(m._meta.db_table)})" for m in models)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")
        return {model._meta.label: count for model, count in zip(models, cursor.fetchone(), strict=True)}


def test_the_walk_found_the_portal():
    assert {"/", "/operations/", "/audit/", "/operations/check-connection/"} <= set(PORTAL_PATHS)


@pytest.mark.parametrize("path", PORTAL_PATHS)
def test_anonymous_users_are_sent_to_login(client: Client, path: str):
    if path in PUBLIC:
        assert client.get(path).status_code == 200
        return
    if path == ICON:
        response = client.get(path)
        assert (response.status_code, response["Location"]) == (301, "/static/portal/favicon.svg")
        assert client.get(response["Location"]).status_code == 200
        return
    if path in SIGNED:
        before = _row_counts()
        assert (client.get(path).status_code, client.post(path).status_code) == (405, 403)
        assert _row_counts() == before
        return
    for method in (client.get, client.post):
        response = method(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/login/") or response["Location"].startswith("/admin/login/"), path


@pytest.mark.parametrize("path", PORTAL_PATHS)
def test_viewers_cannot_change_anything(client: Client, viewer, path: str):
    if path in PUBLIC or path in LOGOUT or path == ICON:
        return
    client.login(username=viewer.get_username(), password=PASSWORD)
    before = _row_counts()
    response = client.post(path, {"reason": "walk"})
    assert response.status_code in (302, 403, 405), (path, response.status_code)
    if response.status_code == 302:
        assert response["Location"].startswith("/admin/login/"), path  # Django admin: staff only
    assert _row_counts() == before, path


@pytest.mark.parametrize("path", PORTAL_PATHS)
def test_a_get_never_changes_state(client: Client, admin, path: str):
    if path in LOGOUT:
        return
    client.login(username=admin.get_username(), password=PASSWORD)
    before = _row_counts()
    client.get(path)
    client.get(path, headers={"HX-Request": "true"})
    after = _row_counts()
    before.pop("sessions.Session", None), after.pop("sessions.Session", None)
    assert after == before, path


def test_state_changing_views_answer_405_to_get(client: Client, admin):
    client.login(username=admin.get_username(), password=PASSWORD)
    assert client.get("/operations/check-connection/").status_code == 405
