"""The meetings refresher: reconciliation, the backstop for meeting events (delivery is best effort).

Every cycle checks a few active meetings, least recently refreshed first (a meeting someone has open every cycle),
with GetMeeting: NotFound means AWS ended it (idle 5 minutes or 24 hours, or with its primary) and the row is marked
so. A meeting still there has its attendees checked with ListAttendees: one the registry lacks is added, one AWS no
longer lists is marked deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from portal.aws import chime_meetings as chime
from portal.aws.errors import AwsNotFound
from portal.core.drift import drift_gone
from portal.core.refresh import Cycle, Items, Observed, Refresher, refresh_run, refresher_register
from portal.meetings.models import Attendee, Meeting
from portal.meetings.operations import meeting_mark_ended, meeting_recount

COLD_PER_CYCLE = 5


@dataclass(frozen=True)
class MeetingItem:
    pk: int
    meeting_id: str


@dataclass(frozen=True)
class MeetingSeen:
    gone: bool
    attendees: list[dict[str, Any]]


def _items(watched: set[str]) -> Items[MeetingItem]:
    active = Meeting.objects.filter(status=Meeting.Status.ACTIVE, meeting_id__isnull=False)
    hot = list(active.filter(pk__in=[int(key) for key in watched if key.isdigit()]))
    cold = list(
        active.exclude(pk__in=[m.pk for m in hot]).order_by(F("refreshed_at").asc(nulls_first=True), "pk")[
            :COLD_PER_CYCLE
        ]
    )
    return Items(hot=[MeetingItem(m.pk, m.meeting_id or "") for m in hot],
                 cold=[MeetingItem(m.pk, m.meeting_id or "") for m in cold])  # fmt: skip


async def _observe(client: Any, item: MeetingItem) -> MeetingSeen:
    try:
        await chime.meeting_get(meeting_id=item.meeting_id)
        return MeetingSeen(gone=False, attendees=await chime.attendees_list(client, meeting_id=item.meeting_id))
    except AwsNotFound:
        return MeetingSeen(gone=True, attendees=[])


def _apply_one(observed: Observed[MeetingItem]) -> str:
    item, seen = observed.item, observed.result
    meeting = Meeting.objects.select_for_update().get(pk=item.pk)
    if meeting.status != Meeting.Status.ACTIVE or meeting.changed_at > observed.observed_at:
        return "skipped"
    Meeting.objects.filter(pk=meeting.pk).update(refreshed_at=timezone.now())
    if seen.gone:
        meeting_mark_ended(meeting=meeting, reason=Meeting.EndReason.BY_AWS, at=observed.observed_at)
        drift_gone(meeting)
        return "ended"
    listed = {a["AttendeeId"]: a for a in seen.attendees}
    known = set(meeting.attendees.values_list("attendee_id", flat=True))
    Attendee.objects.bulk_create(
        [
            Attendee(
                meeting=meeting,
                attendee_id=attendee_id,
                external_user_id=a["ExternalUserId"],
                capabilities=a.get("Capabilities", {}),
            )
            for attendee_id, a in listed.items()
            if attendee_id not in known
        ],
        ignore_conflicts=True,  # the events consumer or the PSTN handler may insert the same attendee meanwhile
    )
    meeting.attendees.exclude(state=Attendee.State.DELETED).exclude(attendee_id__in=listed).filter(
        created_at__lt=observed.observed_at
    ).update(state=Attendee.State.DELETED, video=False, content=False, content_video=False)
    meeting_recount(meeting.pk)
    return "checked"


def _apply(cycle: Cycle[MeetingItem]) -> dict[str, int]:
    summary = {"checked": 0, "ended": 0, "skipped": 0}
    for observed in cycle.observed:
        if observed.error is None:
            with transaction.atomic():
                summary[_apply_one(observed)] += 1
    return summary


MEETINGS_REFRESHER = refresher_register(
    Refresher(name="meetings", service=chime.SERVICE, items=_items, observe=_observe, apply=_apply, concurrency=2)
)


def meetings_refresh() -> dict[str, int] | None:
    """One cycle of the meetings refresher, now."""
    return refresh_run(MEETINGS_REFRESHER.name)
