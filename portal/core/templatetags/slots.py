from typing import Any

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from portal.core.slots import slot_panels

register = template.Library()


@register.simple_tag(takes_context=True)
def slot(context: template.Context, name: str, obj: Any) -> SafeString:
    """Render every panel the apps declared for slot `name`, in order, each with its own context."""
    request = context["request"]
    parts = []
    for panel in slot_panels(name):
        panel_context = panel.context(request, obj)
        if panel_context is None:
            continue
        parts.append(render_to_string(panel.template, {"object": obj, **panel_context}, request=request))
    return mark_safe("".join(parts))  # each part was rendered by Django's autoescaping templates
