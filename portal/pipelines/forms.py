"""Capture pipeline forms: what CreateMediaCapturePipeline and CreateMediaConcatenationPipeline would refuse is
refused here first, next to its field, keeping the input. Enums, sizes and lengths come from the botocore model."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings

from portal.aws.media_pipelines import SERVICE
from portal.aws.shapes import shape_get, shape_limits, shape_validators
from portal.core.forms import UntruncatedForm
from portal.meetings.models import Meeting
from portal.pipelines.selectors import sink_buckets
from portal.pipelines.services import CaptureSpec
from portal.pipelines.sinks import sink_refusal
from portal.stages.forms import BaseTagFormSet, TagForm

SELECTED_STREAMS_MAX = 25  # SelectedVideoStreams: AttendeeIds and ExternalUserIds together (AWS documentation)
TAGS_MAX = shape_limits(SERVICE, "TagList")[1] or 200
# AudioWithCompositedVideo also needs a composited-video layout, which this form does not ask for.
AUDIO_MUX_CHOICES = [
    (value, value) for value in shape_get(SERVICE, "AudioMuxType").metadata.get("enum", [])
    if value != "AudioWithCompositedVideo"
]  # fmt: skip
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
PREFIX = re.compile(r"^[A-Za-z0-9/_.:-]*$")  # what the model's Arn pattern admits in a sink ARN
ARN_MAX = shape_limits(SERVICE, "Arn")[1] or 1024


def _bucket_field() -> forms.Field:
    """A choice of the configured or listed buckets; a name to type when the portal knows none yet. With none
    configured, the field says the portal will not offer what AWS writes there."""
    buckets = sink_buckets()
    unread = "" if settings.CAPTURE_SINK_BUCKETS else f" {sink_refusal('')}"
    if buckets:
        return forms.ChoiceField(
            label="Sink bucket", choices=[(name, name) for name in buckets], help_text=unread.strip()
        )
    return forms.CharField(
        label="Sink bucket",
        help_text=f"No bucket list is configured or known yet: type the bucket's name.{unread}",
    )


class SinkForm(UntruncatedForm):
    prefix = forms.CharField(
        label="Prefix", required=False, help_text="Optional folder in the bucket; AWS uses the meeting id without one."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields = {"bucket": _bucket_field(), **self.fields}

    def clean_bucket(self) -> str:
        bucket = self.cleaned_data["bucket"].strip()
        if not BUCKET_NAME.match(bucket):
            raise forms.ValidationError("A bucket name has 3 to 63 lowercase letters, digits, dots and hyphens.")
        return bucket

    def clean_prefix(self) -> str:
        prefix = self.cleaned_data["prefix"].strip().strip("/")
        if not PREFIX.match(prefix) or "//" in prefix:
            raise forms.ValidationError("Use letters, digits, _ . : - and / between folders (AWS's ARN pattern).")
        if len(f"arn:aws:s3:::{self.cleaned_data.get('bucket', '')}/{prefix}") > ARN_MAX:
            raise forms.ValidationError(f"The sink ARN (bucket and prefix) has at most {ARN_MAX} characters.")
        return prefix


class CaptureStartForm(SinkForm):
    audio_mux = forms.ChoiceField(label="Audio", choices=AUDIO_MUX_CHOICES, initial="AudioOnly")
    video = forms.BooleanField(label="Video", required=False, initial=True)
    content = forms.BooleanField(label="Content share", required=False, initial=True)
    video_streams = forms.CharField(
        label="Only these attendees' video",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=f"One attendee id or external user id per line, at most {SELECTED_STREAMS_MAX}; empty: everyone's.",
    )
    stop_when_empty_minutes = forms.IntegerField(
        label="Stop if nobody joins within (minutes)",
        required=False,
        min_value=1,
        max_value=24 * 60,
        help_text="A capture keeps an empty meeting alive. Empty: never.",
    )
    max_duration_minutes = forms.IntegerField(
        label="Stop after (minutes)", required=False, min_value=1, max_value=24 * 60, help_text="Empty: no limit."
    )

    def __init__(self, *args: Any, meeting: Meeting, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "stop_when_empty_minutes": settings.CAPTURE_STOP_WHEN_EMPTY_MINUTES or None,
                "max_duration_minutes": settings.CAPTURE_MAX_DURATION_MINUTES or None,
            },
        )
        super().__init__(*args, **kwargs)
        self.meeting = meeting

    def clean_video_streams(self) -> tuple[list[str], list[str]]:
        """(attendee ids, external user ids): a line naming one of the meeting's attendee ids is an attendee id."""
        lines = [line.strip() for line in self.cleaned_data["video_streams"].splitlines() if line.strip()]
        if len(lines) > SELECTED_STREAMS_MAX:
            raise forms.ValidationError(f"At most {SELECTED_STREAMS_MAX} video streams; {len(lines)} are listed.")
        if len(lines) != len(set(lines)):
            raise forms.ValidationError("Each attendee may appear only once.")
        attendee_ids = set(self.meeting.attendees.filter(attendee_id__in=lines).values_list("attendee_id", flat=True))
        external = [line for line in lines if line not in attendee_ids]
        low, high = shape_limits(SERVICE, "ExternalUserIdType")
        for line in external:
            if not (low or 0) <= len(line) <= (high or 64):
                raise forms.ValidationError(
                    f"{line!r} is no attendee id of this meeting nor an external user id ({low} to {high} characters)."
                )
        return [line for line in lines if line in attendee_ids], external

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        streams = cleaned.get("video_streams") or ([], [])
        if (streams[0] or streams[1]) and not cleaned.get("video"):
            self.add_error("video_streams", "Chosen video streams need Video on.")
        return cleaned

    def spec(self, tags: dict[str, str]) -> CaptureSpec:
        data = self.cleaned_data
        attendee_ids, external_user_ids = data["video_streams"]
        return CaptureSpec(
            bucket=data["bucket"],
            prefix=data["prefix"],
            audio_mux=data["audio_mux"],
            video=data["video"],
            content=data["content"],
            attendee_ids=attendee_ids,
            external_user_ids=external_user_ids,
            tags=tags,
            stop_when_empty_minutes=data["stop_when_empty_minutes"],
            max_duration_minutes=data["max_duration_minutes"],
        )


class PipelineTagForm(TagForm):
    """A tag row with the media pipelines model's key and value limits."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for field, shape in (("key", "TagKey"), ("value", "TagValue")):
            value = cleaned.get(field)
            if not value or field in self.errors:
                continue
            for validator in shape_validators(SERVICE, shape, what=f"A tag {field}"):
                try:
                    validator(value)  # type: ignore[operator]
                except forms.ValidationError as error:
                    self.add_error(field, error)
        return cleaned


class BasePipelineTagFormSet(BaseTagFormSet):
    max_tags = TAGS_MAX
    too_many = f"A media pipeline takes at most {TAGS_MAX} tags."


PipelineTagFormSet = forms.formset_factory(
    PipelineTagForm, formset=BasePipelineTagFormSet, extra=0, max_num=TAGS_MAX, absolute_max=TAGS_MAX
)


class ConcatenateForm(SinkForm):
    """Where the one file goes: a bucket and an optional prefix."""
