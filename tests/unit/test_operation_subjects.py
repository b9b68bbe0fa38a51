"""Every operation names what it changed as people know it and links back to where it is seen: each kind declares
its subject, core shows it on the operation's page, in its progress and in the operations list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Model
from django.urls import reverse

from portal.channels.services import ChannelSpec, channels_create_fleet
from portal.core.operation_kinds import operation_kind_get, operation_kinds
from portal.core.roles import Role
from portal.meetings.models import Meeting
from portal.pipelines.models import CapturePipeline
from portal.pstn.models import PhoneCall, PhoneNumber, PhoneNumberOrder, SipMediaApplication, SipRule
from tests.conftest import login
from tests.factories import ChannelFactory, OperationFactory, StageFactory

pytestmark = pytest.mark.django_db

MEETING_UUID = "7277ae77-b309-4c1e-9a55-0c8f2b1d3e4f"
# (the row the operation is about or None, its parameters, the name shown, the page linked)
Case = tuple[Model | None, dict[str, Any], str, str]


def _channel() -> Case:
    channel = ChannelFactory(name="lobby-cam")
    return channel, {"channel_id": channel.pk}, "lobby-cam", reverse("channel_detail", args=[channel.pk])


def _stage() -> Case:
    stage = StageFactory(name="town-hall")
    return stage, {"stage_id": stage.pk}, "town-hall", reverse("stage_detail", args=[stage.pk])


def _meeting_row() -> Meeting:
    return Meeting.objects.create(external_meeting_id="walk-standup", media_region="us-east-1", meeting_id=MEETING_UUID)


def _meeting() -> Case:
    meeting = _meeting_row()
    return meeting, {"meeting_pk": meeting.pk}, "walk-standup", reverse("meeting_detail", args=[meeting.pk])


def _in_meeting(who: str, parameters: dict[str, Any]) -> Callable[[], Case]:
    def case() -> Case:
        meeting = _meeting_row()
        url = reverse("meeting_detail", args=[meeting.pk])
        return meeting, {"meeting_pk": meeting.pk, **parameters}, f"{who} in walk-standup", url

    return case


def _capture() -> Case:
    capture = CapturePipeline.objects.create(meeting=_meeting_row(), sink_bucket="recordings")
    parameters = {"capture_pk": capture.pk, "external_meeting_id": "walk-standup"}
    return capture, parameters, "recording of walk-standup", reverse("pipeline_detail", args=[capture.pk])


def _sma_row() -> SipMediaApplication:
    return SipMediaApplication.objects.create(
        name="front-desk", aws_region="us-east-1", lambda_arn="arn:aws:lambda:us-east-1:111122223333:function:desk"
    )


def _on_wiring(row: Model, anchor: str, name: str, parameters: dict[str, Any]) -> Case:
    return row, parameters, name, f"{reverse('pstn_wiring')}#{anchor}-{row.pk}"


def _sma() -> Case:
    sma = _sma_row()
    return _on_wiring(sma, "sma", "front-desk", {"sma_pk": sma.pk})


def _rule() -> Case:
    rule = SipRule.objects.create(name="dial-in", trigger_value="+15550100", target=_sma_row())
    return _on_wiring(rule, "rule", "dial-in", {"rule_pk": rule.pk})


def _number() -> Case:
    number = PhoneNumber.objects.create(phone_number_id="pn-1", e164="+15550100")
    return _on_wiring(number, "number", "+15550100", {"number_pk": number.pk})


def _order() -> Case:
    numbers = ["+15550100", "+15550101"]
    order = PhoneNumberOrder.objects.create(
        product_type=PhoneNumber.ProductType.SMA_DIAL_IN, numbers=[{"e164": n, "status": "Requested"} for n in numbers]
    )
    return _on_wiring(order, "order", "+15550100, +15550101", {"order_pk": order.pk, "numbers": numbers})


def _call() -> Case:
    call = PhoneCall.objects.create(
        direction=PhoneCall.Direction.INBOUND,
        from_masked="+1 ••• 0142",
        to_masked="+1 ••• 0100",
        meeting=_meeting_row(),
    )
    return call, {"call_pk": call.pk}, "Dial-in +1 ••• 0142 → +1 ••• 0100", reverse("pstn_call", args=[call.pk])


def _page(name: str, url_name: str, parameters: dict[str, Any] | None = None) -> Callable[[], Case]:
    return lambda: (None, parameters or {}, name, reverse(url_name))


CASES: dict[str, Callable[[], Case]] = {
    "aws.check_connection": _page("AWS connection", "operations"),
    **dict.fromkeys(
        ["channels.create", "channels.delete", "channels.ice_servers", "channels.tag", "channels.tags_set",
         "channels.untag", "channels.update_ttl"],
        _channel,
    ),
    **dict.fromkeys(
        ["meetings.add_attendees", "meetings.create", "meetings.end", "meetings.update_capabilities_except"], _meeting
    ),
    "meetings.revoke_attendee": _in_meeting("bob", {"external_user_id": "bob", "attendee_id": "a-1"}),
    "meetings.update_capabilities": _in_meeting("bob", {"external_user_id": "bob", "attendee_id": "a-1"}),
    "pstn.create_caller_attendee": _in_meeting("pstn-caller", {"external_user_id": "pstn-caller"}),
    "pstn.delete_caller_attendee": _in_meeting("pstn-caller", {"external_user_id": "pstn-caller"}),
    "pstn.dial_out": _in_meeting("a call to +1 ••• 0199", {"to_masked": "+1 ••• 0199"}),
    **dict.fromkeys(["pipelines.concatenate", "pipelines.start", "pipelines.stop"], _capture),
    **dict.fromkeys(["pstn.create_sma", "pstn.update_sma", "pstn.delete_sma"], _sma),
    **dict.fromkeys(["pstn.create_rule", "pstn.update_rule", "pstn.delete_rule"], _rule),
    **dict.fromkeys(["pstn.update_number", "pstn.release_number", "pstn.restore_number"], _number),
    "pstn.order_numbers": _order,
    "pstn.search_numbers": _page("available phone numbers", "pstn_wiring"),
    "pstn.hangup": _call,
    **dict.fromkeys(
        ["stages.create", "stages.delete", "stages.disconnect_participant", "stages.issue_token", "stages.rename",
         "stages.tag", "stages.tags_put", "stages.untag"],
        _stage,
    ),
    "stages.sync": _page("stages in us-east-1", "stages", {"region": "us-east-1"}),
}  # fmt: skip
PORTAL_KINDS = sorted(kind.name for kind in operation_kinds() if not kind.name.startswith("tests."))


def test_every_kind_of_the_portal_is_checked_here():
    assert sorted(CASES) == PORTAL_KINDS


@pytest.mark.parametrize("kind_name", PORTAL_KINDS)
def test_every_operation_page_links_what_it_changed_by_name(kind_name, make_user):
    assert operation_kind_get(kind_name).subject is not None, f"{kind_name} declares no subject"
    resource, parameters, name, url = CASES[kind_name]()
    operation = OperationFactory(kind=kind_name, target=MEETING_UUID, parameters=parameters, resource=resource)
    client = login(make_user("vic", Role.VIEWER))
    link = f'<a class="operation-subject" href="{url}" title="{MEETING_UUID}">{name}</a>'

    page = client.get(reverse("operation_detail", args=[operation.pk])).content.decode()
    progress = client.get(reverse("operation_detail", args=[operation.pk]), headers={"HX-Request": "true"})
    listed = client.get(reverse("operations")).content.decode()

    assert page.count(link) == 2  # in the progress headline and in the facts
    assert link in progress.content.decode()
    assert link in listed


def test_a_fleet_is_found_again_from_the_operations_list_and_each_of_its_operations(
    admin, viewer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        batch = channels_create_fleet(
            actor=admin,
            specs=[ChannelSpec(name=f"cam-{n}", channel_type="SINGLE_MASTER", ttl=60, tags={}) for n in (1, 2)],
            label="Create 2 signaling channels (cam-1 … cam-2)",
        )
    client = login(viewer)
    link = f'<a href="{reverse("operation_batch", args=[batch.pk])}">Create 2 signaling channels (cam-1 … cam-2)</a>'

    listed = client.get(reverse("operations")).content.decode()
    detail = client.get(reverse("operation_detail", args=[batch.operations.first().pk])).content.decode()

    assert link in listed.split('id="recent-batches"', 1)[1].split("</p>", 1)[0]
    assert f"<dt>Requested together</dt><dd>{link}</dd>" in detail
