"""Columns one app adds to another app's list, so a list never imports the features that extend it.

A list's selector passes its queryset through `annotated(queryset)`; an app declares what it adds in its
`annotations.py` (autodiscovered), as a query expression the database computes in the list's own query:

    annotation_register(Annotation(model="meetings.meeting", name="capture_running", expression=capture_running))

`expression()` answers a Django expression (e.g. an `Exists` subquery on the list's rows): the list's query count
stays what it was, whatever the number of rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)

_annotations: dict[str, dict[str, Annotation]] = {}


@dataclass(frozen=True)
class Annotation:
    model: str  # the list's model, as its label_lower ("meetings.meeting")
    name: str  # the attribute each row gets
    expression: Callable[[], Any]


def annotation_register(annotation: Annotation) -> Annotation:
    _annotations.setdefault(annotation.model, {})[annotation.name] = annotation
    return annotation


def annotated(queryset: QuerySet[M]) -> QuerySet[M]:
    """The queryset with every column the apps declared for its model."""
    declared = _annotations.get(queryset.model._meta.label_lower, {})
    return queryset.annotate(**{name: a.expression() for name, a in declared.items()}) if declared else queryset
