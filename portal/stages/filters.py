"""The stage list's filters (django-filter): name, one tag as key=value, live now, and status."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.db.models.fields.json import KeyTextTransform

from portal.stages.models import Stage


class KeyValueField(forms.CharField):
    """`key=value` → ("key", "value"); empty → None."""

    def to_python(self, value: Any) -> tuple[str, str] | None:
        text = super().to_python(value).strip()
        if not text:
            return None
        key, separator, tag_value = text.partition("=")
        if not separator or not key.strip():
            raise forms.ValidationError("Filter tags as key=value.")
        return key.strip(), tag_value.strip()


class TagFilter(django_filters.Filter):
    field_class = KeyValueField

    def filter(self, qs: QuerySet[Stage], value: tuple[str, str] | None) -> QuerySet[Stage]:
        if value is None:
            return qs
        key, tag_value = value
        return qs.alias(tag_value=KeyTextTransform(key, "tags")).filter(tag_value=tag_value)


class StageFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name", max_length=128)
    tag = TagFilter(label="Tag", max_length=400, help_text="key=value")
    live = django_filters.BooleanFilter(method="filter_live", label="Live now", widget=forms.CheckboxInput)
    status = django_filters.ChoiceFilter(choices=Stage.Status.choices, label="Status", empty_label="Any status")

    class Meta:
        model = Stage
        fields: list[str] = []

    def filter_live(self, stages: QuerySet[Stage], name: str, live: bool | None) -> QuerySet[Stage]:
        return stages.exclude(active_session_id="") if live else stages
