from __future__ import annotations

from django import template
from django.db import models
from django.utils.html import format_html

from portal.core.polling import poll_trigger, subject_of

register = template.Library()


@register.simple_tag
def poll(interval: str | None, follows: models.Model | str | None = None) -> str:
    """`{% poll "normal" %}` writes hx-trigger="every 2s"; an empty interval writes nothing (the element is still).

    `{% poll None follows=stage %}` makes the element fetch itself again when an operation on `stage` ends (see
    portal.core.polling); with an interval as well, it does both.
    """
    trigger = poll_trigger(interval, follows=follows is not None)
    if follows is None:
        return format_html('hx-trigger="{}"', trigger) if trigger else ""
    return format_html('hx-trigger="{}" data-follows="{}"', trigger, subject_of(follows))
