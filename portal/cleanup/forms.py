"""The policy form: everything a run could not do is refused here, beside its field, and the input is kept."""

from __future__ import annotations

from typing import Any

from celery.schedules import ParseException, crontab
from django import forms

from portal.cleanup.kinds import PROTECTION_TAG, Condition, cleanup_kind_get, cleanup_kinds
from portal.cleanup.models import ACTIONS_MAX, CleanupPolicy
from portal.cleanup.services import POLICY_FIELDS

# Each cron field: crontab's argument, its name in messages, and the values it takes.
CRON_FIELDS = (
    ("minute", "minute", 0, 59),
    ("hour", "hour", 0, 23),
    ("day_of_month", "day-of-month", 1, 31),
    ("month_of_year", "month", 1, 12),
    ("day_of_week", "day-of-week", 0, 6),
)
CRON_ERRORS = (ValueError, KeyError, IndexError, ParseException)


def _kind_choices() -> list[tuple[str, str]]:
    """No kind is chosen until the person chooses one: a policy deletes or stops what it selects, so a default would
    be the portal guessing what to destroy (and the first kind alphabetically was "Capture pipelines: stop the
    capture", which nobody had picked)."""
    kinds = [(kind.name, f"{kind.label}: {kind.action_label.lower()}") for kind in cleanup_kinds()]
    return [("", "Choose the resources and the action"), *kinds]


class CleanupPolicyForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=_kind_choices, label="Resources and action")
    select_everything = forms.BooleanField(
        required=False,
        label="Select every resource of this kind",
        help_text="Needed when no name pattern, tag or origin narrows the selection.",
    )
    # Bounded in clean() and clean_max_actions() with the domain's limits, not the database column's.
    amount = forms.IntegerField(
        label="For at least", min_value=0, initial=0,
        help_text="How long the condition must have held, at most ten years; token expired needs none.",
    )  # fmt: skip
    max_actions = forms.IntegerField(label="At most this many actions per run", help_text=f"1 to {ACTIONS_MAX:,}.")

    class Meta:
        model = CleanupPolicy
        fields = POLICY_FIELDS
        labels = {
            "name_pattern": "Name pattern",
            "tag_key": "Tag key",
            "tag_value": "Tag value",
            "origin": "Origin",
            "unit": "Unit",
            "schedule": "Schedule",
        }
        help_texts = {
            "schedule": "Cron, in UTC: minute hour day-of-month month day-of-week. Empty: the policy runs only when "
            "run now.",
        }
        widgets = {
            "name_pattern": forms.TextInput(attrs={"placeholder": "test-* (empty: any name)"}),
            "schedule": forms.TextInput(attrs={"placeholder": "0 3 * * * (empty: only Run now)"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.pop("maxlength", None)
        order = list(self.fields)
        order.insert(order.index("origin") + 1, order.pop(order.index("select_everything")))
        self.order_fields(order)
        if self.instance.pk and self.instance.selects_everything:
            self.fields["select_everything"].initial = True

    def clean_schedule(self) -> str:
        schedule = " ".join(self.cleaned_data["schedule"].split())
        if not schedule:
            return ""
        parts = schedule.split(" ")
        if len(parts) != 5:
            raise forms.ValidationError(
                "A cron expression has five fields: minute hour day-of-month month day-of-week, e.g. 0 3 * * *."
            )
        for value, (argument, name, low, high) in zip(parts, CRON_FIELDS, strict=True):
            try:
                crontab(**{argument: value})
            except CRON_ERRORS as error:
                raise forms.ValidationError(
                    f"This cron expression cannot be read: its {name} field takes {low} to {high} as a number, a "
                    f"range (a-b), a list (a,b) or a step (*/n), and “{value}” is none of these."
                ) from error
        try:
            crontab(**{argument: value for value, (argument, *_) in zip(parts, CRON_FIELDS, strict=True)})
        except CRON_ERRORS as error:
            raise forms.ValidationError(f"This cron expression cannot be read: {str(error).rstrip('.')}.") from error
        return schedule

    def clean_tag_key(self) -> str:
        key = self.cleaned_data["tag_key"].strip()
        if key == PROTECTION_TAG:
            raise forms.ValidationError(f"{PROTECTION_TAG} protects resources: no policy selects by it.")
        return key

    def clean_max_actions(self) -> int:
        cap = self.cleaned_data["max_actions"]
        if cap < 1:
            raise forms.ValidationError("A policy acts on at least one resource per run.")
        if cap > ACTIONS_MAX:
            raise forms.ValidationError(f"A policy acts on at most {ACTIONS_MAX:,} resources per run.")
        return cap

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("tag_value") and not cleaned.get("tag_key") and "tag_key" not in self.errors:
            self.add_error("tag_key", "A tag value needs its key.")
        selection = {name: cleaned.get(name, self.data.get(name, "")) for name in ("name_pattern", "tag_key", "origin")}
        if CleanupPolicy.selects_everything_of(**selection) and not cleaned.get("select_everything"):
            kind = cleanup_kind_get(cleaned["kind"]).label.lower() if cleaned.get("kind") else "its kind"
            self.add_error(
                "select_everything",
                f"No name pattern, tag or origin: this policy selects every one of the {kind}. Narrow the "
                "selection, or tick this box to confirm that is meant.",
            )
        kind_name, condition = cleaned.get("kind"), cleaned.get("condition")
        if kind_name and condition:
            kind = cleanup_kind_get(kind_name)
            if condition not in kind.conditions:
                allowed = ", ".join(Condition.LABELS[name].lower() for name in kind.conditions)
                self.add_error("condition", f"{kind.label} take one of these conditions: {allowed}.")
            elif condition in Condition.TIMED and not cleaned.get("amount"):
                self.add_error("amount", "Say how long: a number of minutes, hours or days above 0.")
        amount, unit = cleaned.get("amount"), cleaned.get("unit")
        if amount and unit and amount > CleanupPolicy.amount_max(unit):
            self.add_error(
                "amount",
                f"At most {CleanupPolicy.amount_max(unit):,} {unit} (ten years): nothing a policy cleans up is older.",
            )
        return cleaned
