"""The stage list's filters (django-filter): name, one tag as key=value, live now, and status."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet

from portal.core.filters import TagFilter, day_range_filters
from portal.stages.models import Participant, Stage, StageSession


class StageFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name", max_length=128)
    tag = TagFilter(field_name="tags", label="Tag", max_length=400, help_text="key=value")
    live = django_filters.BooleanFilter(method="filter_live", label="Live now", widget=forms.CheckboxInput)
    status = django_filters.ChoiceFilter(choices=Stage.Status.choices, label="Status", empty_label="Any status")

    class Meta:
        model = Stage
        fields: list[str] = []

    def filter_live(self, stages: QuerySet[Stage], name: str, live: bool | None) -> QuerySet[Stage]:
        return stages.exclude(active_session_id="") if live else stages


class StageSessionFilter(django_filters.FilterSet):
    """A stage's sessions by the day they started (UTC), to page through more than one page of them."""

    started_from, started_to = day_range_filters("started_at")

    class Meta:
        model = StageSession
        fields: list[str] = []


class ParticipantFilter(django_filters.FilterSet):
    """A session's participants by user id, state and whether they published; the refresh reads IVS through the
    most selective of them (ListParticipants takes one filter at a time)."""

    user_id = django_filters.CharFilter(label="User id", max_length=128)
    state = django_filters.ChoiceFilter(choices=Participant.State.choices, label="State", empty_label="Any state")
    published = django_filters.ChoiceFilter(
        choices=[("true", "Published"), ("false", "Did not publish")],
        method="filter_published",
        label="Published",
        empty_label="Published or not",
    )

    class Meta:
        model = Participant
        fields: list[str] = []

    def filter_published(self, participants: QuerySet[Participant], name: str, value: str) -> QuerySet[Participant]:
        return participants.filter(published=value == "true")

    def aws_filter(self) -> dict[str, Any]:
        """The one ListParticipants filter that narrows most: a user id, then published, then a state."""
        if not self.is_bound or not self.form.is_valid():
            return {}
        data = self.form.cleaned_data
        if data.get("user_id"):
            return {"filterByUserId": data["user_id"]}
        if data.get("published"):
            return {"filterByPublished": data["published"] == "true"}
        if data.get("state"):
            return {"filterByState": data["state"]}
        return {}
