from __future__ import annotations

from django import template
from django.utils.html import format_html

from portal.core.polling import poll_trigger

register = template.Library()


@register.simple_tag
def poll(interval: str | None) -> str:
    """`{% poll "normal" %}` writes hx-trigger="every 2s"; an empty interval writes nothing (the element is still)."""
    if not interval:
        return ""
    return format_html('hx-trigger="{}"', poll_trigger(interval))
