"""The list filters (django-filter): each is the form the page shows and the query it runs. The operations and
audit filters, and the tag filter every resource with AWS tags uses."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import F, JSONField, Q, QuerySet, Value
from django.db.models.fields.json import DataContains

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
