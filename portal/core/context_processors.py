from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from portal.core.roles import role_of
from portal.core.sections import AREA_ATTRIBUTE, sections_by_area, sections_for


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    items = []
    area_section = sections_by_area().get(getattr(request, AREA_ATTRIBUTE, ""))
    for section in sections_for(user):
        url = reverse(section.url_name)
        active = section == area_section if area_section else request.path.startswith(url)
        items.append({"label": section.label, "url": url, "active": active})
    # Lazy: htmx partials never show the role, and it costs a query.
    return {"nav_items": items, "portal_role": SimpleLazyObject(lambda: role_of(user))}
