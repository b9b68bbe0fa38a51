"""The portal's sections, as the navigation and the overview show them. Each app's config declares its own:

    class StagesConfig(AppConfig):
        sections = (Section(label="Stages", url_name="stages", position=20, summary="..."),)

A section with `figures` (the dotted path of a function answering `list[Figure]` in a fixed number of queries) puts
them on the overview, each linking to its list filtered to what it counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from django.apps import apps
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


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


def sections_for(user: AbstractBaseUser | AnonymousUser) -> list[Section]:
    """The sections this person may open, in order."""
    return [section for section in sections() if not section.permission or user.has_perm(section.permission)]
