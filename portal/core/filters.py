"""The list filters (django-filter): each is the form the page shows and the query it runs. The operations and
audit filters, and the tag filter every resource with AWS tags uses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import django_filters
from django import forms
from django.db.models import F, JSONField, Q, QuerySet, Value
from django.db.models.fields.json import DataContains
from django.utils import timezone

from portal.core.audit_kinds import audit_kind_labels
from portal.core.models import AuditEntry, Operation
from portal.core.operation_kinds import operation_kinds


class HasTag(DataContains):
    """`HasTag(F("tags"), (key, value))`: the JSON object holds `key` with exactly the string `value`.

    Any key (digits, dots, quotes, `__`) and any value (numeric-looking ones too) is matched as the text it is.
    PostgreSQL tests `tags @> '{"key": "value"}'`; SQLite has no containment for JSON, so it looks through the
    object's members with json_each. (Django's key transforms read a key of digits as an array index, and on SQLite
    compare a key's text against the value parsed as JSON: "team=media" fails and "cost=3" matches nothing.)
    """

    def __init__(self, lhs: Any, tag: tuple[str, str]) -> None:
        self.tag = tag
        super().__init__(lhs, Value(dict([tag]), output_field=JSONField()))

    def as_sqlite(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        member = "SELECT 1 FROM json_each({}) AS tag WHERE tag.key = %s AND tag.type = 'text' AND tag.value = %s"
        return f"EXISTS ({member.format(lhs)})", [*lhs_params, *self.tag]


class KeyValueField(forms.CharField):
    """`key=value` → ("key", "value"); empty → None. The key is everything before the first "="."""

    def to_python(self, value: Any) -> tuple[str, str] | None:
        text = super().to_python(value).strip()
        if not text:
            return None
        key, separator, tag_value = text.partition("=")
        if not separator or not key.strip():
            raise forms.ValidationError("Filter tags as key=value.")
        return key.strip(), tag_value.strip()


class TagFilter(django_filters.Filter):
    """One tag as `key=value` on a model's `tags` JSON field (AWS tags: string keys and values)."""

    field_class = KeyValueField

    def filter(self, qs: QuerySet[Any], value: tuple[str, str] | None) -> QuerySet[Any]:
        if value is None:
            return qs
        return qs.filter(HasTag(F(self.field_name), value))


def filter_rows(filters: django_filters.FilterSet) -> QuerySet[Any]:
    """The rows a filtered list shows: what its filters select, or none while one of them is wrong (the form says
    which, beside it): django-filter skips a filter it cannot read, and the list would look as if every row matched."""
    if filters.is_bound and not filters.is_valid():
        return filters.queryset.none()
    return filters.qs


def _kind_choices() -> list[tuple[str, str]]:
    return [(kind.name, kind.label) for kind in operation_kinds()]


def _audit_kind_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Every kind an audit entry can have: the AWS operations, then what changes in the portal alone (users and
    log-ins, cleanup policies, drift resolutions), each group by its label."""
    in_the_portal = sorted(audit_kind_labels().items(), key=lambda choice: choice[1])
    return [("AWS operations", _kind_choices()), ("In the portal", in_the_portal)]


def day_range_filters(field_name: str) -> tuple[django_filters.DateFilter, django_filters.DateFilter]:
    """From and To filters on the (UTC) day of a datetime field, with the browser's date picker."""

    def day(lookup: str, label: str) -> django_filters.DateFilter:
        picker = forms.DateInput(attrs={"type": "date"})
        return django_filters.DateFilter(field_name=field_name, lookup_expr=lookup, label=label, widget=picker)

    return day("date__gte", "From"), day("date__lte", "To")


IN_FLIGHT = "in_flight"
WITHIN = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}


def within_filter(field_name: str, label: str) -> django_filters.ChoiceFilter:
    """Last hour, 24 hours or 7 days, up to now, on a datetime field."""

    def within(queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(**{f"{field_name}__gte": timezone.now() - WITHIN[value]})

    choices = [("1h", "Last hour"), ("24h", "Last 24 hours"), ("7d", "Last 7 days")]
    return django_filters.ChoiceFilter(choices=choices, method=within, label=label, empty_label="Any time")


class OperationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=[(IN_FLIGHT, "In flight (queued or running)"), *Operation.Status.choices],
        method="filter_status",
        label="Status",
        empty_label="Any status",
    )
    kind = django_filters.ChoiceFilter(choices=_kind_choices, label="Kind", empty_label="Any kind")
    within = within_filter("created_at", "Requested")

    class Meta:
        model = Operation
        fields: list[str] = []

    def filter_status(self, operations: QuerySet[Operation], name: str, status: str) -> QuerySet[Operation]:
        if status == IN_FLIGHT:
            return operations.filter(status__in=Operation.UNFINISHED)
        return operations.filter(status=status)


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
    kind = django_filters.ChoiceFilter(choices=_audit_kind_choices, label="Kind", empty_label="Any kind")
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
