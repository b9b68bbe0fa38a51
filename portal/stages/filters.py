"""The stage list's filters (django-filter): name, one tag as key=value, and live now."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import QuerySet

from portal.core.filters import TagFilter
from portal.stages.models import Stage


class StageFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name", max_length=128)
    tag = TagFilter(field_name="tags", label="Tag", max_length=400, help_text="key=value")
    live = django_filters.BooleanFilter(method="filter_live", label="Live now", widget=forms.CheckboxInput)

    class Meta:
        model = Stage
        fields: list[str] = []

    def filter_live(self, stages: QuerySet[Stage], name: str, live: bool | None) -> QuerySet[Stage]:
        return stages.exclude(active_session_id="") if live else stages
