"""Panels one app contributes to another app's page, so a page never imports the features that extend it.

A page names a slot and renders it with its object: `{% slot "meeting_detail" meeting %}`. An app declares a panel
for it in its `slots.py` (autodiscovered):

    slot_register(SlotPanel(slot="meeting_detail", name="capture", template="pipelines/_meeting_capture.html",
                            context=capture_context, order=20))

`context(request, obj)` answers the panel's template context in a fixed number of queries, or None to leave the
panel out (for example when the user may not see it). The template gets that context plus `request`, `perms` and
the slot's object as `object`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

PanelContext = Callable[[HttpRequest, Any], dict[str, Any] | None]

_panels: dict[str, list[SlotPanel]] = {}


@dataclass(frozen=True)
class SlotPanel:
    slot: str
    name: str  # unique within its slot
    template: str
    context: PanelContext
    order: int = 100  # top to bottom


def slot_register(panel: SlotPanel) -> SlotPanel:
    panels = [existing for existing in _panels.get(panel.slot, []) if existing.name != panel.name]
    _panels[panel.slot] = sorted([*panels, panel], key=lambda each: (each.order, each.name))
    return panel


def slot_panels(slot: str) -> list[SlotPanel]:
    return list(_panels.get(slot, []))
