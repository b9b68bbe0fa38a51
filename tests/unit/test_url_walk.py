"""Walk every URL pattern: nothing is public but the login page, a Viewer can change nothing, GETs change nothing, and
an id no row can have is a 404 in any position, on both engines the portal runs on."""

from __future__ import annotations

import itertools
import re

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
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
# Ids no BigAutoField holds: 2**63 itself, 20 digits, 40 digits. SQLite cannot compare a column with any of them.
HUGE_IDS = [str(2**63), "9" * 20, "9" * 40]


def _concrete(route: str) -> str:
    def value(match: re.Match[str]) -> str:
        return "1" if match["converter"] == "id" else "x"

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


def _routes(patterns: list, prefix: str = "") -> list[str]:
    routes = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes.extend(_routes(pattern.url_patterns, route))
        elif isinstance(pattern, URLPattern) and "<id:" in route:
            routes.append("/" + route)
    return routes


def _with_huge_id(route: str, position: int, huge: str) -> str:
    """The route with `huge` as its `position`-th id and 1 as every other."""
    ids = itertools.count()

    def value(match: re.Match[str]) -> str:
        if match["converter"] != "id":
            return "x"
        return huge if next(ids) == position else "1"

    return ARGUMENT.sub(value, route)


HUGE_ID_PATHS = sorted(
    {
        _with_huge_id(route, position, huge)
        for route in _routes(get_resolver().url_patterns)
        for position in range(route.count("<id:"))
        for huge in HUGE_IDS
    }
)


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


@pytest.mark.django_db(databases=["default", "sqlite"])
@pytest.mark.parametrize("alias", ["default", "sqlite"])
def test_an_id_no_row_can_have_is_a_404_in_every_position(views_on, alias):
    """The probe: /stages/9223372036854775808/participants/1/timeline/ (and the other nested routes) answered 500 on
    SQLite (OverflowError). Every route with an id, each id in turn 2**63 or longer, as a superuser (past every
    permission check), on PostgreSQL and on SQLite (what `make run` uses)."""
    views_on(alias)
    superuser = get_user_model().objects.create_superuser("walker", password=PASSWORD)
    client = Client()
    client.force_login(superuser)
    answers = {(path, method): getattr(client, method)(path).status_code for path in HUGE_ID_PATHS for method in
               ("get", "post")}  # fmt: skip
    assert {key: status for key, status in answers.items() if status != 404} == {}
    assert get_user_model().objects.using(alias).filter(pk=superuser.pk).exists()


def test_the_huge_id_walk_tries_every_position():
    nested = "/stages/1/participants/9223372036854775808/timeline/"
    assert {nested, "/stages/9223372036854775808/participants/1/timeline/"} <= set(HUGE_ID_PATHS)
    assert len(HUGE_ID_PATHS) > 3 * 50


def test_state_changing_views_answer_405_to_get(client: Client, admin):
    client.login(username=admin.get_username(), password=PASSWORD)
    assert client.get("/operations/check-connection/").status_code == 405
