"""Signaling channel forms: every rule KVS would enforce is checked here first (lengths, patterns and ranges from the
botocore model), and names the registry already holds are refused before anything is queued."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings

from portal.aws.shapes import shape_limits, shape_validators
from portal.channels.models import Channel
from portal.channels.services import MAX_TAGS, ChannelSpec, channel_limit, channel_names_taken
from portal.core.forms import UntruncatedForm

SERVICE = "kinesisvideo"
TTL_MIN, TTL_MAX = shape_limits(SERVICE, "MessageTtlSeconds")
TAG_PUNCTUATION = set(" _.:/=+-@")
# A name pattern with one numeric range: cam-{0001..0500}; the first number's width pads every name.
RANGE = re.compile(r"\{(\d+)\.\.(\d+)\}")
FLEET_MAX = 10_000


def _tag_text_ok(text: str) -> bool:
    return all(char.isalnum() or char.isspace() or char in TAG_PUNCTUATION for char in text)


def tags_parse(text: str) -> dict[str, str]:
    """One key=value per line, as KVS's model allows them (letters, digits, spaces and _.:/=+-@)."""
    tags: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, separator, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not separator or not key:
            raise forms.ValidationError(f"Line {number}: write key=value.")
        if len(key) > 128 or len(value) > 256:
            raise forms.ValidationError(f"Line {number}: a key has at most 128 characters, a value at most 256.")
        if key.lower().startswith("aws:"):
            raise forms.ValidationError(f"Line {number}: keys starting with 'aws:' are reserved by AWS.")
        if not _tag_text_ok(key) or not _tag_text_ok(value):
            raise forms.ValidationError(f"Line {number}: use letters, digits, spaces and _ . : / = + - @ only.")
        if key in tags:
            raise forms.ValidationError(f"Line {number}: the key {key!r} appears twice.")
        tags[key] = value
    if len(tags) > MAX_TAGS:
        raise forms.ValidationError(f"At most {MAX_TAGS} tags.")
    return tags


class ChannelSettingsForm(UntruncatedForm):
    channel_type = forms.ChoiceField(label="Type", choices=Channel.Type.choices, initial=Channel.Type.SINGLE_MASTER)
    message_ttl = forms.IntegerField(
        label="Message TTL (seconds)", min_value=TTL_MIN, max_value=TTL_MAX, initial=60,
        help_text=f"{TTL_MIN} to {TTL_MAX} seconds: how long undelivered messages are kept.",
    )  # fmt: skip
    tags = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text="One key=value per line; up to 50."
    )

    def clean_tags(self) -> dict[str, str]:
        return tags_parse(self.cleaned_data.get("tags", ""))

    def spec(self, name: str) -> ChannelSpec:
        data = self.cleaned_data
        return ChannelSpec(name=name, channel_type=data["channel_type"], ttl=data["message_ttl"], tags=data["tags"])


class ChannelCreateForm(ChannelSettingsForm):
    name = forms.CharField(
        validators=shape_validators(SERVICE, "ChannelName", what="A channel name"),
        help_text="1 to 256 letters, digits, hyphens, underscores and dots; unique in the account and region.",
    )
    field_order = ["name", "channel_type", "message_ttl", "tags"]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if channel_names_taken(names=[name]):
            raise forms.ValidationError(f"The portal already has a channel named {name} in this region.")
        return name


def fleet_names(pattern: str) -> list[str]:
    """The names a pattern makes: `cam-{0001..0500}` → cam-0001 … cam-0500."""
    ranges = RANGE.findall(pattern)
    if len(ranges) != 1:
        raise forms.ValidationError("Put exactly one numeric range in the pattern, e.g. cam-{0001..0500}.")
    first, last = ranges[0]
    low, high = int(first), int(last)
    if low > high:
        raise forms.ValidationError("The range must go up: the first number is at most the last.")
    if high - low + 1 > FLEET_MAX:
        raise forms.ValidationError(f"At most {FLEET_MAX} channels in one fleet.")
    width = len(first) if first.startswith("0") else 0
    before, after = RANGE.split(pattern, maxsplit=1)[0], RANGE.split(pattern, maxsplit=1)[-1]
    return [f"{before}{number:0{width}d}{after}" for number in range(low, high + 1)]


class FleetCreateForm(ChannelSettingsForm):
    pattern = forms.CharField(
        label="Name pattern",
        max_length=300,
        help_text="Names with one numeric range, e.g. cam-{0001..0500}: every channel gets the settings below.",
    )
    field_order = ["pattern", "channel_type", "message_ttl", "tags"]

    def clean_pattern(self) -> list[str]:
        names = fleet_names(self.cleaned_data["pattern"])
        name_rules = shape_validators(SERVICE, "ChannelName", what="A channel name")
        for name in (names[0], names[-1]):
            for rule in name_rules:
                try:
                    rule(name)  # type: ignore[operator]
                except forms.ValidationError as invalid:
                    raise forms.ValidationError(f"{name}: {' '.join(invalid.messages)}") from invalid
        taken = channel_names_taken(names=names)
        if taken:
            raise forms.ValidationError(
                f"The portal already has {len(taken)} of these names ({', '.join(taken[:5])}"
                f"{', …' if len(taken) > 5 else ''}); choose another range."
            )
        known = Channel.objects.filter(status__in=Channel.IN_AWS).count()
        limit = channel_limit(settings.AWS_REGION)
        if known + len(names) > limit:
            raise forms.ValidationError(
                f"{len(names)} channels would take the account over its {limit} channels in {settings.AWS_REGION} "
                f"(the portal knows {known})."
            )
        return names

    @property
    def specs(self) -> list[ChannelSpec]:
        return [self.spec(name) for name in self.cleaned_data["pattern"]]


class TtlForm(UntruncatedForm):
    message_ttl = forms.IntegerField(label="Message TTL (seconds)", min_value=TTL_MIN, max_value=TTL_MAX)
    version = forms.CharField(
        widget=forms.HiddenInput, validators=shape_validators(SERVICE, "Version", what="A version")
    )


class TagAddForm(UntruncatedForm):
    key = forms.CharField(max_length=128)
    value = forms.CharField(max_length=256, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "key" in cleaned and "value" in cleaned:
            try:
                cleaned["tags"] = tags_parse(f"{cleaned['key']}={cleaned['value']}")
            except forms.ValidationError as invalid:
                self.add_error("key", invalid.messages[0].removeprefix("Line 1: "))
        return cleaned


class TagRemoveForm(UntruncatedForm):
    key = forms.CharField(max_length=128)


class ChannelDeleteForm(UntruncatedForm):
    confirm = forms.CharField(label="Type the channel's name to confirm", max_length=256)

    def __init__(self, *args: Any, channel: Channel, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.channel = channel

    def clean_confirm(self) -> str:
        if self.cleaned_data["confirm"] != self.channel.name:
            raise forms.ValidationError(f"Type {self.channel.name!r} exactly to delete this channel.")
        return self.cleaned_data["confirm"]
