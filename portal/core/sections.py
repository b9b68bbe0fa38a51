"""The portal's sections, as the navigation and the overview show them. Each app's config declares its own:

    class StagesConfig(AppConfig):
        sections = (Section(label="Stages", url_name="stages", position=20, summary="..."),)

A section with `figures` (the dotted path of a function answering `list[Figure]` in a fixed number of queries) puts
them on the overview, each linking to its list filtered to what it counts.

The navigation highlights the section whose page the path is under. A page about an area outside its section's path
(an operation's page, at /operations/<id>/) names its area with `section_area_set`: the navigation then highlights
the section of that area, the one section its app declares (core declares several, and so has none; its pages go by
their path).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from django.apps import apps
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django.http import HttpRequest

    from portal.core.models import Operation

AREA_ATTRIBUTE = "section_area"  # on the request: the area the page is about, when its path does not say


@dataclass(frozen=True)
class Figure:
    """One count on the overview, linking to the list filtered to what it counts."""

    label: str
    value: int
    url: str
    attention: bool = False  # shown as needing a look (failures)


@dataclass(frozen=True)
class Section:
    label: str  # in the navigation
    url_name: str
    position: int  # left to right in the navigation, first to last on the overview
    title: str = ""  # the heading and the overview's tile; the label when empty
    summary: str = ""  # the overview's tile; a section without one has no tile
    permission: str = ""  # only people holding it see the section; "" = everyone who may view resources
    figures: str = ""  # dotted path of a function answering the overview's figures

    @property
    def heading(self) -> str:
        return self.title or self.label

    def figures_now(self) -> list[Figure]:
        return import_string(self.figures)() if self.figures else []


@cache
def sections() -> tuple[Section, ...]:
    declared = [section for config in apps.get_app_configs() for section in getattr(config, "sections", ())]
    return tuple(sorted(declared, key=lambda section: section.position))


@cache
def sections_by_area() -> dict[str, Section]:
    """The section of each area (an app's label, as operation kinds and resources name it): its app's only one."""
    declared = {config.label: getattr(config, "sections", ()) for config in apps.get_app_configs()}
    return {label: found[0] for label, found in declared.items() if len(found) == 1}


def operation_area(operation: Operation) -> str:
    """The area an operation is about: its resource's app ("meetings" for an attendee), else its kind's prefix."""
    if operation.resource_type_id is not None:
        from django.contrib.contenttypes.models import ContentType  # app configs import this module: no models yet

        return ContentType.objects.get_for_id(operation.resource_type_id).app_label
    return operation.kind.split(".", 1)[0]


def section_area_set(request: HttpRequest, area: str) -> None:
    """The page is about `area`: the navigation highlights its section instead of the one its path is under."""
    setattr(request, AREA_ATTRIBUTE, area)


def sections_for(user: AbstractBaseUser | AnonymousUser) -> list[Section]:
    """The sections this person may open, in order."""
    return [section for section in sections() if not section.permission or user.has_perm(section.permission)]
