"""The operations and audit filters (django-filter): each is the form the page shows and the query it runs."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from portal.core.models import AuditEntry, Operation
from portal.core.operation_kinds import operation_kinds


def _kind_choices() -> list[tuple[str, str]]:
    return [(kind.name, kind.label) for kind in operation_kinds()]


class OperationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Operation.Status.choices, label="Status", empty_label="Any status")
    kind = django_filters.ChoiceFilter(choices=_kind_choices, label="Kind", empty_label="Any kind")

    class Meta:
        model = Operation
        fields: list[str] = []


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
    date_from = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta:
        model = AuditEntry
        fields: list[str] = []
        form = AuditFilterForm

    def filter_target(self, queryset: QuerySet[AuditEntry], name: str, value: str) -> QuerySet[AuditEntry]:
        """Part of what the entry is about: the resource's name then, the AWS target, or a name in the summary."""
        return queryset.filter(
            Q(resource_name__icontains=value) | Q(target__icontains=value) | Q(summary__icontains=value)
        )
