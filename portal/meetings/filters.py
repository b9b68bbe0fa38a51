"""The meeting list's filters (django-filter): search by ids, status, one tag, and who is in the meeting."""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, Q, QuerySet

from portal.core.filters import TagFilter
from portal.meetings.models import Attendee, Meeting


class MeetingFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_ids", label="Meeting", max_length=64)
    status = django_filters.ChoiceFilter(choices=Meeting.Status.choices, label="Status", empty_label="Any status")
    tag = TagFilter(field_name="tags", label="Tag", max_length=400, help_text="key=value")
    attendee = django_filters.CharFilter(method="filter_attendee", label="Has attendee", max_length=64)

    class Meta:
        model = Meeting
        fields: list[str] = []

    def filter_ids(self, meetings: QuerySet[Meeting], name: str, value: str) -> QuerySet[Meeting]:
        """Part of the external meeting id, or the whole meeting id."""
        return meetings.filter(Q(external_meeting_id__icontains=value) | Q(meeting_id=value.strip()))

    def filter_attendee(self, meetings: QuerySet[Meeting], name: str, value: str) -> QuerySet[Meeting]:
        """Meetings holding an attendee with exactly this external user id."""
        held = Attendee.objects.filter(meeting=OuterRef("pk"), external_user_id=value.strip())
        return meetings.filter(Exists(held))
