"""Meeting forms: every rule of the Chime SDK model and the capabilities rule are checked here first, so nothing
AWS would refuse is queued, and the input is kept. Lengths and patterns come from the botocore model."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from portal.aws.chime_meetings import MEDIA_REGIONS
from portal.aws.chime_meetings import SERVICE as CHIME
from portal.aws.shapes import shape_limits, shape_validators
from portal.meetings.models import Attendee, Meeting
from portal.meetings.services import MEDIA, AttendeeSpec, capabilities_problem
from portal.stages.forms import BaseTagFormSet, TagForm

CAPABILITY_CHOICES = [(value, value) for value in ("SendReceive", "Send", "Receive", "None")]
CREATE_ATTENDEES_MAX = shape_limits(CHIME, "CreateMeetingWithAttendeesRequestItemList")[1] or 20
TENANTS_MAX = shape_limits(CHIME, "TenantIdList")[1] or 5
TAGS_MAX = shape_limits(CHIME, "TagList")[1] or 50
ATTENDEES_MAX = shape_limits(CHIME, "AttendeeMax")[1] or 250


def _capability_field(label: str) -> forms.ChoiceField:
    return forms.ChoiceField(label=label, choices=CAPABILITY_CHOICES, initial="SendReceive")


class CapabilitiesForm(forms.Form):
    """Audio, video and content capabilities, checked against the capabilities rule (and the meeting's features)."""

    audio = _capability_field("Audio")
    video = _capability_field("Video")
    content = _capability_field("Content")

    def __init__(self, *args: Any, features: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.features = features or {}

    @property
    def capabilities(self) -> dict[str, str]:
        return {medium: self.cleaned_data[medium.lower()] for medium in MEDIA if medium.lower() in self.cleaned_data}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if len(self.capabilities) == len(MEDIA) and (
            problem := capabilities_problem(self.capabilities, features=self.features)
        ):
            self.add_error(None, problem)
        return cleaned


class AttendeeLinesMixin(forms.Form):
    """Attendees typed one per line: `external-user-id`, or `external-user-id Audio Video Content` to give that
    attendee its own capabilities; the others get the capabilities chosen below the list."""

    max_attendees = ATTENDEES_MAX
    attendee_lines = forms.CharField(
        label="Attendees",
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        help_text="One external user id per line (2 to 64 characters), optionally followed by its own Audio Video "
        "Content capabilities, e.g. “presenter SendReceive SendReceive SendReceive”.",
    )
    audio = _capability_field("Audio")
    video = _capability_field("Video")
    content = _capability_field("Content")
    user_id_validators = shape_validators(CHIME, "ExternalUserId", what="An external user id")

    def attendee_features(self) -> dict[str, Any]:
        return {}

    def clean_attendee_lines(self) -> list[tuple[int, str, dict[str, str] | None]]:
        entries: list[tuple[int, str, dict[str, str] | None]] = []
        seen: set[str] = set()
        problems: list[str] = []
        for number, line in enumerate(self.cleaned_data.get("attendee_lines", "").splitlines(), start=1):
            words = line.split()
            if not words:
                continue
            user_id, own = words[0], words[1:]
            for validator in self.user_id_validators:
                try:
                    validator(user_id)  # type: ignore[operator]
                except forms.ValidationError as error:
                    problems.append(f"Line {number} ({user_id}): {' '.join(error.messages)}")
            if user_id in seen:
                problems.append(f"Line {number}: {user_id} appears twice.")
            seen.add(user_id)
            capabilities = None
            if own:
                allowed = {value for value, _ in CAPABILITY_CHOICES}
                if len(own) != len(MEDIA) or not set(own) <= allowed:
                    problems.append(
                        f"Line {number} ({user_id}): give three capabilities (Audio Video Content), each one of "
                        "SendReceive, Send, Receive, None."
                    )
                else:
                    capabilities = dict(zip(MEDIA, own, strict=True))
            entries.append((number, user_id, capabilities))
        if len(entries) > self.max_attendees:
            problems.append(f"At most {self.max_attendees} attendees here; there are {len(entries)}.")
        if problems:
            raise forms.ValidationError(problems)
        return entries

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        entries = cleaned.get("attendee_lines") or []
        default = {medium: cleaned[medium.lower()] for medium in MEDIA if medium.lower() in cleaned}
        if len(default) < len(MEDIA):
            return cleaned
        features = self.attendee_features()
        if entries and (problem := capabilities_problem(default, features=features)):
            self.add_error("video", f"Capabilities for the attendees: {problem}")
        problems = [
            f"Line {number} ({user_id}): {problem}"
            for number, user_id, own in entries
            if own and (problem := capabilities_problem(own, features=features))
        ]
        if problems:
            self.add_error("attendee_lines", problems)
        return cleaned

    @property
    def attendee_specs(self) -> list[AttendeeSpec]:
        default = {medium: self.cleaned_data[medium.lower()] for medium in MEDIA}
        return [AttendeeSpec(user_id, own or default) for _, user_id, own in self.cleaned_data["attendee_lines"]]


class MeetingCreateForm(AttendeeLinesMixin):
    max_attendees = CREATE_ATTENDEES_MAX
    external_meeting_id = forms.CharField(
        label="External meeting id",
        validators=shape_validators(CHIME, "ExternalMeetingId", what="An external meeting id"),
        help_text="2 to 64 characters: your own name for the meeting, shown in lists and events.",
    )
    media_region = forms.ChoiceField(label="Media region", choices=[(r, r) for r in MEDIA_REGIONS])
    echo_reduction = forms.BooleanField(label="Audio echo reduction", required=False)
    video_max_resolution = forms.ChoiceField(
        label="Video max resolution",
        choices=[("", "AWS default (HD)"), ("None", "None"), ("HD", "HD"), ("FHD", "FHD")],
        required=False,
    )
    content_max_resolution = forms.ChoiceField(
        label="Content max resolution",
        choices=[("", "AWS default (FHD)"), ("None", "None"), ("FHD", "FHD"), ("UHD", "UHD")],
        required=False,
    )
    attendee_max_count = forms.IntegerField(
        label="Attendee max count", min_value=1, max_value=ATTENDEES_MAX, required=False,
        help_text=f"1 to {ATTENDEES_MAX}; {ATTENDEES_MAX} when empty.",
    )  # fmt: skip
    tenant_ids = forms.CharField(
        label="Tenant ids",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text=f"One per line, at most {TENANTS_MAX}.",
    )
    primary_meeting_id = forms.CharField(
        label="Replica of (primary meeting id)",
        required=False,
        help_text="The meeting id of an active meeting in the registry; leave empty for an ordinary meeting.",
    )
    tenant_validators = shape_validators(CHIME, "TenantId", what="A tenant id")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"media_region": settings.AWS_REGION})
        super().__init__(*args, **kwargs)
        self.fields["attendee_lines"].label = f"Initial attendees (up to {CREATE_ATTENDEES_MAX})"

    def clean_tenant_ids(self) -> list[str]:
        tenants = [line.strip() for line in self.cleaned_data.get("tenant_ids", "").splitlines() if line.strip()]
        if len(tenants) > TENANTS_MAX:
            raise forms.ValidationError(f"At most {TENANTS_MAX} tenant ids; there are {len(tenants)}.")
        problems = []
        for tenant in tenants:
            for validator in self.tenant_validators:
                try:
                    validator(tenant)  # type: ignore[operator]
                except forms.ValidationError as error:
                    problems.append(f"{tenant}: {' '.join(error.messages)}")
        if any("characters AWS" in p for p in problems):
            problems.append("Tenant ids use letters, digits and - _ ! @ # $, with no character repeated 4 times.")
        if problems:
            raise forms.ValidationError(problems)
        return tenants

    def clean_primary_meeting_id(self) -> Meeting | None:
        meeting_id = self.cleaned_data.get("primary_meeting_id", "").strip()
        if not meeting_id:
            return None
        primary = Meeting.objects.filter(meeting_id=meeting_id).first()
        if primary is None:
            raise forms.ValidationError("The registry has no meeting with this meeting id.")
        if not primary.is_usable:
            raise forms.ValidationError(
                f"That meeting is {primary.status_words.lower()}: a replica needs an active primary."
            )
        if primary.primary_id is not None:
            raise forms.ValidationError("That meeting is itself a replica: choose its primary.")
        return primary

    def attendee_features(self) -> dict[str, Any]:
        return self.features

    @property
    def features(self) -> dict[str, Any]:
        data = self.cleaned_data
        features: dict[str, Any] = {}
        if data.get("echo_reduction"):
            features["Audio"] = {"EchoReduction": "AVAILABLE"}
        if data.get("video_max_resolution"):
            features["Video"] = {"MaxResolution": data["video_max_resolution"]}
        if data.get("content_max_resolution"):
            features["Content"] = {"MaxResolution": data["content_max_resolution"]}
        if data.get("attendee_max_count"):
            features["Attendee"] = {"MaxCount": data["attendee_max_count"]}
        return features

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        entries = cleaned.get("attendee_lines") or []
        max_count = cleaned.get("attendee_max_count")
        if max_count and len(entries) > max_count:
            self.add_error(
                "attendee_max_count", f"{len(entries)} initial attendees exceed the max count of {max_count}."
            )
        return cleaned


class MeetingTagForm(TagForm):
    """A tag row with the Chime SDK model's key and value patterns (AWS refuses `aws:` keys; TagForm says so)."""

    key_validators = shape_validators(CHIME, "TagKey", what="A tag key")
    value_validators = shape_validators(CHIME, "TagValue", what="A tag value")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for field, validators in (("key", self.key_validators), ("value", self.value_validators)):
            value = cleaned.get(field)
            if not value or field in self.errors:
                continue
            for validator in validators:
                try:
                    validator(value)  # type: ignore[operator]
                except forms.ValidationError as error:
                    self.add_error(field, error)
        return cleaned


class BaseMeetingTagFormSet(BaseTagFormSet):
    max_tags = TAGS_MAX
    too_many = f"A meeting takes at most {TAGS_MAX} tags."


MeetingTagFormSet = forms.formset_factory(
    MeetingTagForm, formset=BaseMeetingTagFormSet, extra=1, max_num=TAGS_MAX, absolute_max=TAGS_MAX
)


class AttendeesAddForm(AttendeeLinesMixin):
    def __init__(self, *args: Any, meeting: Meeting, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.meeting = meeting
        self.max_attendees = (meeting.features.get("Attendee") or {}).get("MaxCount", ATTENDEES_MAX)
        self.fields["attendee_lines"].required = True

    def attendee_features(self) -> dict[str, Any]:
        return self.meeting.features


class MeetingEndForm(forms.Form):
    confirm = forms.CharField(label="Type the external meeting id to confirm", max_length=64)

    def __init__(self, *args: Any, meeting: Meeting, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.meeting = meeting

    def clean_confirm(self) -> str:
        confirm = self.cleaned_data["confirm"]
        if confirm != self.meeting.external_meeting_id:
            raise forms.ValidationError(f"Type {self.meeting.external_meeting_id!r} exactly to end this meeting.")
        return confirm


class RevokeForm(forms.Form):
    reason = forms.CharField(
        max_length=256, help_text="Required; up to 256 characters. Kept in the audit log with who and whom."
    )


class CapabilitiesExceptForm(CapabilitiesForm):
    keep = forms.ModelMultipleChoiceField(
        label="Leave these attendees unchanged",
        queryset=Attendee.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one attendee to leave unchanged (e.g. the presenter)."},
    )

    def __init__(self, *args: Any, meeting: Meeting, **kwargs: Any) -> None:
        super().__init__(*args, features=meeting.features, **kwargs)
        self.fields["keep"].queryset = meeting.attendees.exclude(state=Attendee.State.DELETED)
