"""Stage forms: every rule IVS would enforce is checked here first, so nothing invalid is queued."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.validators import RegexValidator

from portal.core.forms import UntruncatedForm
from portal.stages.models import Stage
from portal.stages.operations import MARKER_ATTRIBUTE_BYTES, MAX_TAGS
from portal.stages.services import TokenSpec

NAME = RegexValidator(r"^[a-zA-Z0-9_-]*$", "Use only letters, digits, hyphens and underscores.")
ATTRIBUTE_KEY = re.compile(r"^[a-zA-Z0-9_-]*$")
MAX_TOKENS = 12
ATTRIBUTES_MAX_BYTES = 1024 - MARKER_ATTRIBUTE_BYTES  # the portal keeps room for its attempt marker
CAPABILITIES = [("PUBLISH", "Publish"), ("SUBSCRIBE", "Subscribe")]


def tag_key_errors(key: str) -> list[str]:
    errors = []
    if not 1 <= len(key) <= 128:
        errors.append("A tag key has 1 to 128 characters.")
    if key.lower().startswith("aws:"):
        errors.append("Tag keys starting with 'aws:' are reserved by AWS.")
    return errors


class StageNameForm(UntruncatedForm):
    name = forms.CharField(max_length=128, required=False, validators=[NAME], help_text="Up to 128 characters.")


class TagForm(UntruncatedForm):
    key = forms.CharField(max_length=128, required=False)
    value = forms.CharField(max_length=256, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        key, value = cleaned.get("key", ""), cleaned.get("value", "")
        if value and not key:
            self.add_error("key", "A tag needs a key.")
        for error in tag_key_errors(key) if key else []:
            self.add_error("key", error)
        return cleaned


class BaseTagFormSet(forms.BaseFormSet):
    max_tags = MAX_TAGS
    too_many = f"A stage takes at most {MAX_TAGS} tags here: IVS allows 50, and the portal keeps one for itself."

    def clean(self) -> None:
        if any(self.errors):
            return
        keys = [form.cleaned_data["key"] for form in self.forms if form.cleaned_data.get("key")]
        if len(keys) != len(set(keys)):
            raise forms.ValidationError("Each tag key may appear only once.")
        if len(keys) > self.max_tags:
            raise forms.ValidationError(self.too_many)

    @property
    def tags(self) -> dict[str, str]:
        return {f.cleaned_data["key"]: f.cleaned_data.get("value", "") for f in self.forms if f.cleaned_data.get("key")}


TagFormSet = forms.formset_factory(TagForm, formset=BaseTagFormSet, extra=1, max_num=MAX_TAGS)


class TokenForm(UntruncatedForm):
    user_id = forms.CharField(label="User id", max_length=128, required=False)
    capabilities = forms.MultipleChoiceField(
        choices=CAPABILITIES, initial=["PUBLISH", "SUBSCRIBE"], widget=forms.CheckboxSelectMultiple, required=False
    )
    duration = forms.IntegerField(
        label="Duration (minutes)", min_value=1, max_value=20160, initial=720, required=False,
        help_text="1 to 20160 minutes (14 days); 720 when empty.",
    )  # fmt: skip
    attributes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="One key=value per line; 1 KB in all. Every participant sees them: no personal data.",
    )

    def clean_attributes(self) -> dict[str, str]:
        attributes: dict[str, str] = {}
        for number, line in enumerate(self.cleaned_data.get("attributes", "").splitlines(), start=1):
            if not line.strip():
                continue
            key, separator, value = line.partition("=")
            key = key.strip()
            if not separator or not key:
                raise forms.ValidationError(f"Line {number}: write key=value.")
            if not ATTRIBUTE_KEY.match(key):
                raise forms.ValidationError(f"Line {number}: keys use letters, digits, hyphens and underscores only.")
            if key in attributes:
                raise forms.ValidationError(f"Line {number}: the key {key!r} appears twice.")
            attributes[key] = value.strip()
        size = sum(len(k.encode()) + len(v.encode()) for k, v in attributes.items())
        if size > ATTRIBUTES_MAX_BYTES:
            raise forms.ValidationError(
                f"Attributes take {size} bytes; the limit is {ATTRIBUTES_MAX_BYTES} bytes in all "
                f"(IVS allows 1 KB, and the portal keeps {MARKER_ATTRIBUTE_BYTES} bytes for its attempt marker)."
            )
        return attributes

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("capabilities") and "capabilities" not in self.errors:
            self.add_error("capabilities", "Choose at least one capability.")
        return cleaned

    def spec(self) -> TokenSpec:
        data = self.cleaned_data
        return TokenSpec(
            user_id=data.get("user_id", ""),
            capabilities=list(data.get("capabilities") or []),
            duration=data.get("duration") or 720,
            attributes=data.get("attributes") or {},
        )


class BaseTokenFormSet(forms.BaseFormSet):
    """Every row on the form is one token, untouched or not: what the form shows is what it issues. Rows are added
    and removed on the page (portal.js); a row's defaults (both capabilities, 720 minutes) are a valid token."""

    default_error_messages = {
        "too_few_forms": "Add a token: this form issues one token per row.",
        "too_many_forms": f"At most {MAX_TOKENS} tokens at a time.",
    }

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {"empty_permitted": False}  # an untouched row is a token with the defaults, not an empty row

    def clean(self) -> None:
        # Django's own minimum counts a row left at its defaults as empty: count the rows as they are instead.
        if len(self.forms) < self.min_num:
            raise forms.ValidationError(self.error_messages["too_few_forms"], code="too_few_forms")

    @property
    def specs(self) -> list[TokenSpec]:
        return [form.spec() for form in self.forms]


TokenFormSet = forms.formset_factory(
    TokenForm, formset=BaseTokenFormSet, extra=0, max_num=MAX_TOKENS, validate_max=True
)
IssueTokenFormSet = forms.formset_factory(
    TokenForm, formset=BaseTokenFormSet, extra=0, min_num=1, max_num=MAX_TOKENS, validate_max=True
)


class DisconnectForm(UntruncatedForm):
    reason = forms.CharField(
        max_length=128, help_text="Required; up to 128 characters. Kept in the audit log and sent to IVS."
    )


class TagAddForm(TagForm):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("key") and "key" not in self.errors:
            self.add_error("key", "A tag needs a key.")
        return cleaned


class TagRemoveForm(UntruncatedForm):
    key = forms.CharField(max_length=128)


class StageDeleteForm(UntruncatedForm):
    confirm = forms.CharField(label="Type the stage's name to confirm", max_length=128)

    def __init__(self, *args: Any, stage: Stage, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stage = stage

    def clean_confirm(self) -> str:
        confirm = self.cleaned_data["confirm"]
        expected = self.stage.name or self.stage.short_arn
        if confirm != expected:
            raise forms.ValidationError(f"Type {expected!r} exactly to delete this stage.")
        return confirm
