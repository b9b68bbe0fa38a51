from __future__ import annotations

from django import forms

from portal.core.models import AuditEntry, Operation
from portal.core.operation_kinds import operation_kinds


def _kind_choices() -> list[tuple[str, str]]:
    return [("", "Any kind")] + [(kind.name, kind.label) for kind in operation_kinds()]


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150)
    kind = forms.ChoiceField(required=False, choices=_kind_choices)
    target = forms.CharField(required=False, max_length=512)
    event = forms.ChoiceField(required=False, label="Outcome", choices=[("", "Any outcome"), *AuditEntry.Event.choices])
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        if cleaned.get("date_from") and cleaned.get("date_to") and cleaned["date_from"] > cleaned["date_to"]:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned


class OperationFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Operation.Status.choices])
    kind = forms.ChoiceField(required=False, choices=_kind_choices)
