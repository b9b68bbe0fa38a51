"""The operations and audit filters (django-filter): each is the form the page shows and the query it runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone

from portal.core.models import AuditEntry, Operation
from portal.core.operation_kinds import operation_kinds


def _kind_choices() -> list[tuple[str, str]]:
    return [(kind.name, kind.label) for kind in operation_kinds()]


def day_range_filters(field_name: str) -> tuple[django_filters.DateFilter, django_filters.DateFilter]:
    """From and To filters on the (UTC) day of a datetime field, with the browser's date picker."""

    def day(lookup: str, label: str) -> django_filters.DateFilter:
        picker = forms.DateInput(attrs={"type": "date"})
        return django_filters.DateFilter(field_name=field_name, lookup_expr=lookup, label=label, widget=picker)

    return day("date__gte", "From"), day("date__lte", "To")


IN_FLIGHT = "in_flight"
WITHIN = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}


class OperationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=[(IN_FLIGHT, "In flight (queued or running)"), *Operation.Status.choices],
        method="filter_status",
        label="Status",
        empty_label="Any status",
    )
    kind = django_filters.ChoiceFilter(choices=_kind_choices, label="Kind", empty_label="Any kind")
    within = django_filters.ChoiceFilter(
        choices=[("1h", "Last hour"), ("24h", "Last 24 hours"), ("7d", "Last 7 days")],
        method="filter_within",
        label="Requested",
        empty_label="Any time",
    )

    class Meta:
        model = Operation
        fields: list[str] = []

    def filter_status(self, operations: QuerySet[Operation], name: str, status: str) -> QuerySet[Operation]:
        if status == IN_FLIGHT:
            return operations.filter(status__in=Operation.UNFINISHED)
        return operations.filter(status=status)

    def filter_within(self, operations: QuerySet[Operation], name: str, within: str) -> QuerySet[Operation]:
        return operations.filter(created_at__gte=timezone.now() - WITHIN[within])


class AuditFilterForm(forms.Form):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("date_from") and cleaned.get("date_to") and cleaned["date_from"] > cleaned["date_to"]:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned


class AuditFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(
        field_name="actor_name", lookup_expr="icontains", label="Actor", max_length=150,
        widget=forms.TextInput(attrs={"placeholder": "part of a username"}),
    )  # fmt: skip
    kind = django_filters.ChoiceFilter(choices=_kind_choices, label="Kind", empty_label="Any kind")
    target = django_filters.CharFilter(
        method="filter_target", label="Target", max_length=512,
        widget=forms.TextInput(attrs={"placeholder": "stage name, ARN or user id"}),
    )  # fmt: skip
    event = django_filters.ChoiceFilter(choices=AuditEntry.Event.choices, label="Outcome", empty_label="Any outcome")
    date_from, date_to = day_range_filters("created_at")

    class Meta:
        model = AuditEntry
        fields: list[str] = []
        form = AuditFilterForm

    def filter_target(self, queryset: QuerySet[AuditEntry], name: str, value: str) -> QuerySet[AuditEntry]:
        """Part of what the entry is about: the resource's name then, the AWS target, or a name in the summary."""
        return queryset.filter(
            Q(resource_name__icontains=value) | Q(target__icontains=value) | Q(summary__icontains=value)
        )
