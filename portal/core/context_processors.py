from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from portal.core.roles import role_of

SECTIONS = (
    ("Meetings", "meetings", "/meetings/"),
    ("Stages", "stages", "/stages/"),
    ("Channels", "channels", "/channels/"),
    ("Pipelines", "pipelines", "/pipelines/"),
    ("Operations", "operations", "/operations/"),
    ("Audit", "audit", "/audit/"),
)


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    items = [
        {"label": label, "url_name": url_name, "active": request.path.startswith(prefix)}
        for label, url_name, prefix in SECTIONS
    ]
    if user.has_perm("auth.change_user"):
        items.append({"label": "Users", "url_name": "admin:auth_user_changelist", "active": False})
    # Lazy: htmx partials never show the role, and it costs a query.
    return {"nav_items": items, "portal_role": SimpleLazyObject(lambda: role_of(user))}
