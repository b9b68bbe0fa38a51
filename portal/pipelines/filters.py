"""The Pipelines list's filters (django-filter): status, meeting, and the day range they started in."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from portal.pipelines.models import CapturePipeline


class CaptureFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=CapturePipeline.Status.choices, label="Status", empty_label="Any status"
    )
    meeting = django_filters.CharFilter(method="filter_meeting", label="Meeting", max_length=64)
    since = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta:
        model = CapturePipeline
        fields: list[str] = []

    def filter_meeting(self, captures: QuerySet[CapturePipeline], name: str, value: str) -> QuerySet[CapturePipeline]:
        """Part of the meeting's external id, or its whole meeting id."""
        value = value.strip()
        return captures.filter(Q(meeting__external_meeting_id__icontains=value) | Q(meeting__meeting_id=value))
