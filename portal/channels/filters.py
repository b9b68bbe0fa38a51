"""The channel list's filters: name prefix (as ListSignalingChannels' BEGINS_WITH), status, type, one tag, origin."""

from __future__ import annotations

import django_filters

from portal.channels.models import Channel
from portal.core.filters import TagFilter


class ChannelFilter(django_filters.FilterSet):
    prefix = django_filters.CharFilter(
        field_name="name", lookup_expr="startswith", label="Name begins with", max_length=256
    )
    status = django_filters.ChoiceFilter(choices=Channel.Status.choices, label="Status", empty_label="Any status")
    channel_type = django_filters.ChoiceFilter(choices=Channel.Type.choices, label="Type", empty_label="Any type")
    tag = TagFilter(field_name="tags", label="Tag", max_length=400, help_text="key=value")
    origin = django_filters.ChoiceFilter(choices=Channel.Origin.choices, label="Origin", empty_label="Any origin")

    class Meta:
        model = Channel
        fields: list[str] = []
