from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from portal.core.roles import role_of
from portal.core.sections import sections_for


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    items = []
    for section in sections_for(user):
        url = reverse(section.url_name)
        items.append({"label": section.label, "url": url, "active": request.path.startswith(url)})
    if user.has_perm("auth.change_user"):
        items.append({"label": "Users", "url": reverse("admin:auth_user_changelist"), "active": False})
    return {"nav_items": items, "portal_role": role_of(user)}
