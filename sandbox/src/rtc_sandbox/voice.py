"""Amazon Chime SDK voice (PSTN audio): SIP media applications, SIP rules, a seeded pool of phone numbers, and calls.

A call is simulated the way AWS runs one: the SIP media application (SMA) invokes its endpoint with an event, gets
back at most 10 actions, runs them in order and invokes the endpoint again with the outcome (ACTION_SUCCESSFUL after
the last action, ACTION_FAILED with an ErrorType for the first that fails, DIGITS_RECEIVED, HANGUP, ...). An SMA's
endpoint is a Lambda ARN; here each ARN maps to an HTTP URL (the control API, or SANDBOX_SMA_HANDLER_URL for any
ARN), and every invocation is POSTed there signed with the shared secret, as the portal's Lambda forwarder signs it.

Media takes time on the sandbox clock: an action that plays, speaks, pauses or records is the call's action in
progress (`waiting`) until the clock reaches its end (the ticker, a clock advance or the call's next step finishes
it), and the actions after it start from that moment. A digits action is in progress until the caller's keys or
its timeout. Invocations happen outside the world's lock: the handler calls the sandbox back (CreateAttendee) while
it answers. One call's events are handled one at a time, in order.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import posixpath
import re
import struct
import threading
import urllib.error
import urllib.request
import wave
from dataclasses import dataclass
from typing import Any

from rtc_sandbox import meetings
from rtc_sandbox.protocol import ApiError
from rtc_sandbox.signing import signed_headers
from rtc_sandbox.world import (
    Call,
    World,
    check_tag_keys,
    iso,
    new_uuid,
    operation,
    paginate,
    tag_list_to_map,
    tag_map_to_list,
    ticker,
)

SERVICE = "chime-sdk-voice"
BAD_REQUEST = "BadRequestException"
NOT_FOUND = "NotFoundException"
CONFLICT = "ConflictException"
LIMIT_EXCEEDED = "ResourceLimitExceededException"
MAX_TAGS = 50  # per SIP media application: https://docs.aws.amazon.com/chime-sdk/latest/ag/use-tags-sip-apps.html
MAX_ACTIONS = 10  # per response
MAX_ATTRIBUTES = 100  # TransactionAttributes keys
MAX_ATTRIBUTES_BYTES = 20 * 1024
INVOKE_TIMEOUT_SECONDS = 5.0
# "You can respond with a maximum of 10 actions for each AWS Lambda invocation, and you can invoke an AWS Lambda
# function 1,000 times per call." https://docs.aws.amazon.com/chime-sdk/latest/dg/invoke-on-call-leg.html
MAX_INVOCATIONS = 1000
# "Any response for an event related AWS Lambda invocation is ignored" (NEW_OUTBOUND_CALL, RINGING:
# https://docs.aws.amazon.com/chime-sdk/latest/dg/use-create-call-api.html); "The SIP media application ignores all
# actions returned by" the ACTION_INTERRUPTED invocation
# (https://docs.aws.amazon.com/chime-sdk/latest/dg/update-sip-call.html).
ANSWER_IGNORED = frozenset({"NEW_OUTBOUND_CALL", "RINGING", "ACTION_INTERRUPTED"})
# "Types of interruptible actions: PlayAudio, RecordAudio, Pause"; any other action in progress completes first
# (update-sip-call, as above).
INTERRUPTIBLE = frozenset({"PlayAudio", "RecordAudio", "Pause"})
# PlayAudio plays "raw, uncompressed PCM .wav files of no more than 50 MB in size"; anything else is
# InvalidAudioSource (https://docs.aws.amazon.com/chime-sdk/latest/dg/play-audio.html).
MAX_AUDIO_BYTES = 50 * 1024 * 1024
AUDIO_SOURCE_INVALID = "Audio Source parameter value is invalid"
# Amazon Polly's speech takes its text's length at this rate (the sandbox's own rule: about 150 words a minute);
# SSML tags are not spoken.
SPEECH_CHARACTERS_PER_SECOND = 15.0
SSML_TAG = re.compile(r"<[^>]*>")
RECORDING_FRAME_RATE = 8000  # what RecordAudio writes: 16-bit mono PCM WAV, the rate AWS recommends for prompts
DTMF_KEYS = frozenset("0123456789*#")
TERMINATED_BY = {"PlayAudio": "PlaybackTerminators", "RecordAudio": "RecordingTerminators"}  # keys that end them
# Every action type the SMA knows; the sandbox runs the ones a meeting dial-in uses and lets the rest pass.
ACTION_TYPES = frozenset(
    {
        "CallAndBridge",
        "Hangup",
        "JoinChimeMeeting",
        "ModifyChimeMeetingAttendees",
        "Pause",
        "PauseCallRecording",
        "PlayAudio",
        "PlayAudioAndGetDigits",
        "ReceiveDigits",
        "RecordAudio",
        "ResumeCallRecording",
        "SendDigits",
        "Speak",
        "SpeakAndGetDigits",
        "StartBotConversation",
        "StartCallRecording",
        "StopCallRecording",
        "VoiceFocus",
    }
)
DIGITS_ACTIONS = ("SpeakAndGetDigits", "PlayAudioAndGetDigits")
SEEDED_NUMBERS = tuple(f"+1206555{n:04d}" for n in range(100, 110))
SIP_RESPONSE_CODES = ("0", "480", "486")
# The inventory numbers are ordered from: area code → (state, city), toll-free prefixes, a hundred numbers each.
LOCAL_AREAS = {
    "206": ("WA", "Seattle"),
    "212": ("NY", "New York"),
    "312": ("IL", "Chicago"),
    "415": ("CA", "San Francisco"),
    "425": ("WA", "Bellevue"),
}
TOLL_FREE_PREFIXES = ("800", "833", "844", "855", "866", "877", "888")
INVENTORY_RANGE = range(100, 200)
INVENTORY = frozenset(f"+1{area}555{n:04d}" for area in (*LOCAL_AREAS, *TOLL_FREE_PREFIXES) for n in INVENTORY_RANGE)
E164_NUMBER = re.compile(r"\+[1-9][0-9]{1,14}")
DELETED_STATUSES = ("DeleteInProgress", "ReleaseInProgress")

_call_locks: dict[str, threading.Lock] = {}
_answering: set[str] = set()  # outbound calls a thread of this process is answering (under the world's lock)
_settling: set[str] = set()  # calls a thread of this process is finishing due actions of (under the world's lock)
_call_locks_guard = threading.Lock()


def _call_lock(transaction_id: str) -> threading.Lock:
    with _call_locks_guard:
        return _call_locks.setdefault(transaction_id, threading.Lock())


def _smas(world: World) -> dict[str, Any]:
    return world.table("voice.sip_media_applications")


def _rules(world: World) -> dict[str, Any]:
    return world.table("voice.sip_rules")


def _calls(world: World) -> dict[str, Any]:
    return world.table("voice.calls")


def _endpoints(world: World) -> dict[str, Any]:
    return world.table("voice.endpoints")


def _numbers(world: World) -> dict[str, Any]:
    """The account's phone numbers: a seeded pool of SMA dial-in numbers, there from the start."""
    numbers = world.table("voice.phone_numbers")
    if not numbers:
        for number in SEEDED_NUMBERS:
            numbers[number] = {
                "PhoneNumberId": number,
                "E164PhoneNumber": number,
                "Country": "US",
                "Type": "Local",
                "ProductType": "SipMediaApplicationDialIn",
                "Status": "Unassigned",
                "Capabilities": {
                    key: True
                    for key in ("InboundCall", "OutboundCall", "InboundSMS", "OutboundSMS", "InboundMMS", "OutboundMMS")
                },
                "Associations": [],
                "CreatedTimestamp": world.clock.time(),
                "UpdatedTimestamp": world.clock.time(),
            }
    return numbers


# --- SIP media applications ------------------------------------------------------------------------------------


def _sma(world: World, sma_id: str) -> dict[str, Any]:
    sma = _smas(world).get(sma_id)
    if sma is None:
        raise ApiError(NOT_FOUND, f"SIP media application {sma_id} was not found.")
    return sma


def _sma_view(sma: dict[str, Any]) -> dict[str, Any]:
    return {
        key: sma[key]
        for key in (
            "SipMediaApplicationId",
            "AwsRegion",
            "Name",
            "Endpoints",
            "CreatedTimestamp",
            "UpdatedTimestamp",
            "SipMediaApplicationArn",
        )
    }


def _check_name(items: dict[str, Any], key: str, name: str, exclude: str = "") -> None:
    if any(item["Name"] == name and item_id != exclude for item_id, item in items.items()):
        raise ApiError(CONFLICT, f"A {key} named {name!r} already exists.")


@operation(SERVICE, "CreateSipMediaApplication")
def create_sip_media_application(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    _check_name(_smas(call.world), "SIP media application", p["Name"])
    check_tag_keys([tag["Key"] for tag in p.get("Tags") or []], BAD_REQUEST)
    sma_id = new_uuid()
    sma = {
        "SipMediaApplicationId": sma_id,
        "AwsRegion": p["AwsRegion"],
        "Name": p["Name"],
        "Endpoints": p["Endpoints"],
        "CreatedTimestamp": call.now,
        "UpdatedTimestamp": call.now,
        "SipMediaApplicationArn": f"arn:aws:chime:{call.region}:{call.account}:sma/{sma_id}",
        "Tags": tag_map_to_list(tag_list_to_map(p.get("Tags"))),
    }
    _smas(call.world)[sma_id] = sma
    return {"SipMediaApplication": _sma_view(sma)}


@operation(SERVICE, "GetSipMediaApplication")
def get_sip_media_application(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    return {"SipMediaApplication": _sma_view(_sma(call.world, p["SipMediaApplicationId"]))}


@operation(SERVICE, "ListSipMediaApplications")
def list_sip_media_applications(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    items = sorted(_smas(call.world).values(), key=lambda sma: sma["CreatedTimestamp"])
    page, token = paginate(items, p.get("NextToken"), p.get("MaxResults"), 100, BAD_REQUEST)
    return {"SipMediaApplications": [_sma_view(sma) for sma in page], "NextToken": token}


@operation(SERVICE, "UpdateSipMediaApplication")
def update_sip_media_application(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    sma = _sma(call.world, p["SipMediaApplicationId"])
    if "Name" in p:
        _check_name(_smas(call.world), "SIP media application", p["Name"], exclude=sma["SipMediaApplicationId"])
        sma["Name"] = p["Name"]
    if "Endpoints" in p:
        sma["Endpoints"] = p["Endpoints"]
    sma["UpdatedTimestamp"] = call.now
    return {"SipMediaApplication": _sma_view(sma)}


@operation(SERVICE, "DeleteSipMediaApplication")
def delete_sip_media_application(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    sma = _sma(call.world, p["SipMediaApplicationId"])
    used = [rule["SipRuleId"] for rule in _rules(call.world).values() if _targets(rule, sma["SipMediaApplicationId"])]
    if used:
        raise ApiError(CONFLICT, f"SIP rules {', '.join(used)} target this SIP media application; delete them first.")
    del _smas(call.world)[sma["SipMediaApplicationId"]]
    return {}


# --- SIP media applications' tags and logging configuration -------------------------------------------------------


def _tagged(world: World, arn: str) -> dict[str, Any]:
    """The SIP media application an ARN names. A voice connector's ARN (vc/...) is this service's too: the sandbox
    has none, so it is not found either."""
    sma = next((sma for sma in _smas(world).values() if sma["SipMediaApplicationArn"] == arn), None)
    if sma is None:
        raise ApiError(NOT_FOUND, f"The resource {arn} was not found.")
    return sma


@operation(SERVICE, "TagResource")
def tag_resource(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    sma = _tagged(call.world, p["ResourceARN"])
    check_tag_keys([tag["Key"] for tag in p["Tags"]], BAD_REQUEST)
    merged = {**tag_list_to_map(sma["Tags"]), **tag_list_to_map(p["Tags"])}
    if len(merged) > MAX_TAGS:
        raise ApiError(LIMIT_EXCEEDED, f"A SIP media application can have at most {MAX_TAGS} tags.")
    sma["Tags"] = tag_map_to_list(merged)
    return {}


@operation(SERVICE, "UntagResource")
def untag_resource(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Keys the resource does not have are no error."""
    sma = _tagged(call.world, p["ResourceARN"])
    kept = {key: value for key, value in tag_list_to_map(sma["Tags"]).items() if key not in p["TagKeys"]}
    sma["Tags"] = tag_map_to_list(kept)
    return {}


@operation(SERVICE, "ListTagsForResource")
def list_tags_for_resource(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    return {"Tags": _tagged(call.world, p["ResourceARN"])["Tags"]}


def _logging(sma: dict[str, Any]) -> dict[str, Any]:
    """Message logs are off until a put turns them on: the API reference does not say what an application never
    configured answers, and off is the sandbox's reading of it."""
    return sma.get("loggingConfiguration") or {"EnableSipMediaApplicationMessageLogs": False}


@operation(SERVICE, "GetSipMediaApplicationLoggingConfiguration")
def get_sip_media_application_logging_configuration(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    return {"SipMediaApplicationLoggingConfiguration": _logging(_sma(call.world, p["SipMediaApplicationId"]))}


@operation(SERVICE, "PutSipMediaApplicationLoggingConfiguration")
def put_sip_media_application_logging_configuration(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """The configuration given replaces the one there: a member left out is off."""
    sma = _sma(call.world, p["SipMediaApplicationId"])
    given = p.get("SipMediaApplicationLoggingConfiguration") or {}
    sma["loggingConfiguration"] = {
        "EnableSipMediaApplicationMessageLogs": given.get("EnableSipMediaApplicationMessageLogs", False)
    }
    return {"SipMediaApplicationLoggingConfiguration": _logging(sma)}


# --- SIP rules ---------------------------------------------------------------------------------------------------


def _targets(rule: dict[str, Any], sma_id: str) -> bool:
    return any(target["SipMediaApplicationId"] == sma_id for target in rule["TargetApplications"])


def _rule(world: World, rule_id: str) -> dict[str, Any]:
    rule = _rules(world).get(rule_id)
    if rule is None:
        raise ApiError(NOT_FOUND, f"SIP rule {rule_id} was not found.")
    return rule


def _rule_view(rule: dict[str, Any]) -> dict[str, Any]:
    return {
        key: rule[key]
        for key in (
            "SipRuleId",
            "Name",
            "Disabled",
            "TriggerType",
            "TriggerValue",
            "TargetApplications",
            "CreatedTimestamp",
            "UpdatedTimestamp",
        )
    }


def _check_targets(world: World, targets: list[dict[str, Any]]) -> None:
    for target in targets:
        sma_id = target.get("SipMediaApplicationId")
        if not sma_id:
            raise ApiError(BAD_REQUEST, "A target application needs its SipMediaApplicationId.")
        if sma_id not in _smas(world):
            raise ApiError(BAD_REQUEST, f"SIP media application {sma_id} does not exist.")


def _associate(world: World, number: str, rule_id: str | None) -> None:
    entry = _numbers(world).get(number)
    if entry is None:
        return
    entry["Associations"] = (
        [{"Value": rule_id, "Name": "SipRuleId", "AssociatedTimestamp": world.clock.time()}] if (rule_id) else []
    )
    entry["Status"] = "Assigned" if rule_id else "Unassigned"
    entry["UpdatedTimestamp"] = world.clock.time()


@operation(SERVICE, "CreateSipRule")
def create_sip_rule(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    world = call.world
    _check_name(_rules(world), "SIP rule", p["Name"])
    targets = p.get("TargetApplications") or []
    _check_targets(world, targets)
    if p["TriggerType"] == "ToPhoneNumber":
        number = _numbers(world).get(p["TriggerValue"])
        if (
            number is None
            or number["ProductType"] != "SipMediaApplicationDialIn"
            or number["Status"] in DELETED_STATUSES
        ):
            raise ApiError(BAD_REQUEST, f"{p['TriggerValue']} is not a SIP media application dial-in number of yours.")
        if any(rule["TriggerValue"] == p["TriggerValue"] for rule in _rules(world).values()):
            raise ApiError(CONFLICT, f"A SIP rule for {p['TriggerValue']} already exists.")
    rule_id = new_uuid()
    rule = {
        "SipRuleId": rule_id,
        "Name": p["Name"],
        "Disabled": bool(p.get("Disabled", False)),
        "TriggerType": p["TriggerType"],
        "TriggerValue": p["TriggerValue"],
        "TargetApplications": targets,
        "CreatedTimestamp": call.now,
        "UpdatedTimestamp": call.now,
    }
    _rules(world)[rule_id] = rule
    if p["TriggerType"] == "ToPhoneNumber":
        _associate(world, p["TriggerValue"], rule_id)
    return {"SipRule": _rule_view(rule)}


@operation(SERVICE, "GetSipRule")
def get_sip_rule(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    return {"SipRule": _rule_view(_rule(call.world, p["SipRuleId"]))}


@operation(SERVICE, "ListSipRules")
def list_sip_rules(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    items = sorted(_rules(call.world).values(), key=lambda rule: rule["CreatedTimestamp"])
    if p.get("SipMediaApplicationId"):
        items = [rule for rule in items if _targets(rule, p["SipMediaApplicationId"])]
    page, token = paginate(items, p.get("NextToken"), p.get("MaxResults"), 100, BAD_REQUEST)
    return {"SipRules": [_rule_view(rule) for rule in page], "NextToken": token}


@operation(SERVICE, "UpdateSipRule")
def update_sip_rule(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    rule = _rule(call.world, p["SipRuleId"])
    _check_name(_rules(call.world), "SIP rule", p["Name"], exclude=rule["SipRuleId"])
    if "TargetApplications" in p:
        _check_targets(call.world, p["TargetApplications"])
        rule["TargetApplications"] = p["TargetApplications"]
    rule["Name"] = p["Name"]
    if "Disabled" in p:
        rule["Disabled"] = p["Disabled"]
    rule["UpdatedTimestamp"] = call.now
    return {"SipRule": _rule_view(rule)}


@operation(SERVICE, "DeleteSipRule")
def delete_sip_rule(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    rule = _rule(call.world, p["SipRuleId"])
    if not rule["Disabled"]:
        raise ApiError(CONFLICT, "A SIP rule must be disabled before it can be deleted.")
    del _rules(call.world)[rule["SipRuleId"]]
    if rule["TriggerType"] == "ToPhoneNumber":
        _associate(call.world, rule["TriggerValue"], None)
    return {}


# --- phone numbers -------------------------------------------------------------------------------------------------


def _number_view(number: dict[str, Any]) -> dict[str, Any]:
    view = {key: value for key, value in number.items() if key[0].isupper()}
    view["Associations"] = [dict(a, AssociatedTimestamp=iso(a["AssociatedTimestamp"])) for a in number["Associations"]]
    return view


@operation(SERVICE, "ListPhoneNumbers")
def list_phone_numbers(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    items = sorted(_numbers(call.world).values(), key=lambda number: number["E164PhoneNumber"])
    for member, key in (("Status", "Status"), ("ProductType", "ProductType")):
        if p.get(member):
            items = [number for number in items if number[key] == p[member]]
    if p.get("FilterName") == "SipRuleId" and p.get("FilterValue"):
        items = [n for n in items if any(a["Value"] == p["FilterValue"] for a in n["Associations"])]
    page, token = paginate(items, p.get("NextToken"), p.get("MaxResults"), 100, BAD_REQUEST)
    return {"PhoneNumbers": [_number_view(number) for number in page], "NextToken": token}


def _number(world: World, number_id: str) -> dict[str, Any]:
    number = _numbers(world).get(number_id)
    if number is None:
        raise ApiError(NOT_FOUND, f"Phone number {number_id} was not found.")
    return number


@operation(SERVICE, "GetPhoneNumber")
def get_phone_number(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    return {"PhoneNumber": _number_view(_number(call.world, p["PhoneNumberId"]))}


@operation(SERVICE, "UpdatePhoneNumber")
def update_phone_number(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """One detail at a time (product type, calling name or name), as the API reference says; a calling name
    takes a while to reach the carriers, and another cannot be asked for meanwhile."""
    number = _number(call.world, p["PhoneNumberId"])
    details = [member for member in ("ProductType", "CallingName", "Name") if member in p]
    if len(details) != 1:
        raise ApiError(BAD_REQUEST, "Update one phone number detail at a time: ProductType, CallingName or Name.")
    if number["Status"] in DELETED_STATUSES:
        raise ApiError(BAD_REQUEST, f"Phone number {number['PhoneNumberId']} is in the deletion queue.")
    if "ProductType" in p and p["ProductType"] != number["ProductType"] and number["Associations"]:
        raise ApiError(CONFLICT, "The product type of a phone number in use by a SIP rule cannot be changed.")
    if "CallingName" in p:
        if number.get("CallingNameStatus") == "UpdateInProgress":
            raise ApiError(CONFLICT, "A calling name update is pending; it must complete before another is asked.")
        number["CallingNameStatus"] = "UpdateInProgress"
        number["callingNameDueAt"] = call.now + call.world.timing.calling_name_update
    number[details[0]] = p[details[0]]
    number["UpdatedTimestamp"] = call.now
    return {"PhoneNumber": _number_view(number)}


@operation(SERVICE, "DeletePhoneNumber")
def delete_phone_number(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """The number moves to the deletion queue for 7 days (RestorePhoneNumber takes it back), then leaves the
    account. A number a SIP rule uses must be freed first: AWS answers BadRequestException, not a conflict."""
    number = _number(call.world, p["PhoneNumberId"])
    if number["Associations"]:
        raise ApiError(
            BAD_REQUEST,
            f"Phone number {number['PhoneNumberId']} is associated with SIP rule {number['Associations'][0]['Value']}; "
            "it must be disassociated before it can be deleted.",
        )
    if number["Status"] in DELETED_STATUSES:
        raise ApiError(BAD_REQUEST, f"Phone number {number['PhoneNumberId']} is already in the deletion queue.")
    number.update(Status="DeleteInProgress", DeletionTimestamp=call.now, UpdatedTimestamp=call.now)
    return {}


@operation(SERVICE, "RestorePhoneNumber")
def restore_phone_number(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    number = _number(call.world, p["PhoneNumberId"])
    if number["Status"] not in DELETED_STATUSES:
        raise ApiError(BAD_REQUEST, f"Phone number {number['PhoneNumberId']} is not in the deletion queue.")
    number.pop("DeletionTimestamp", None)
    number.update(Status="Unassigned", UpdatedTimestamp=call.now)
    return {"PhoneNumber": _number_view(number)}


@ticker
def settle_phone_numbers(world: World, now: float) -> bool:
    """Calling names reach the carriers; numbers 7 days in the deletion queue leave the account."""
    numbers = world.table("voice.phone_numbers")
    changed = False
    for number_id, number in list(numbers.items()):
        if number.get("callingNameDueAt") is not None and now >= number["callingNameDueAt"]:
            number["CallingNameStatus"] = "UpdateSucceeded"
            number["callingNameDueAt"] = None
            changed = True
        deleted = number.get("DeletionTimestamp")
        if deleted is not None and now >= deleted + world.timing.phone_number_deletion_queue:
            del numbers[number_id]
            changed = True
    return changed


# --- the number inventory and orders -----------------------------------------------------------------------------


def _inventory(area_codes: tuple[str, ...]) -> list[str]:
    return [f"+1{area}555{n:04d}" for area in area_codes for n in INVENTORY_RANGE]


def _held(world: World) -> set[str]:
    """Numbers of the account, and numbers in an order still processing."""
    ordered = {
        ordered["E164PhoneNumber"]
        for order in _orders(world).values()
        if order["Status"] == "Processing"
        for ordered in order["OrderedPhoneNumbers"]
    }
    return set(_numbers(world)) | ordered


def _search_areas(p: dict[str, Any]) -> tuple[str, ...]:
    toll_free = p.get("PhoneNumberType") == "TollFree" or bool(p.get("TollFreePrefix"))
    local = any(p.get(member) for member in ("AreaCode", "City", "State"))
    if toll_free and local:
        raise ApiError(BAD_REQUEST, "A toll-free search takes no AreaCode, City or State.")
    if p.get("TollFreePrefix") and p.get("PhoneNumberType") == "Local":
        raise ApiError(BAD_REQUEST, "TollFreePrefix confines a toll-free search, not a local one.")
    if toll_free:
        return (p["TollFreePrefix"],) if p.get("TollFreePrefix") else TOLL_FREE_PREFIXES
    if not local:
        raise ApiError(BAD_REQUEST, "Search by AreaCode, City, State or TollFreePrefix.")
    if p.get("City") and not p.get("State"):
        raise ApiError(BAD_REQUEST, "A search by City also needs its State.")
    return tuple(
        area
        for area, (state, city) in LOCAL_AREAS.items()
        if p.get("AreaCode") in (None, "", area)
        and p.get("State") in (None, "", state)
        and (p.get("City") or "").lower() in ("", city.lower())
    )


@operation(SERVICE, "SearchAvailablePhoneNumbers")
def search_available_phone_numbers(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Numbers the account may order: US only, a hundred per area code and toll-free prefix, always the same ones,
    less those the account holds or has on order."""
    areas = _search_areas(p)
    if p.get("Country") not in (None, "US"):
        areas = ()
    held = _held(call.world)
    available = [number for number in _inventory(areas) if number not in held]
    page, token = paginate(available, p.get("NextToken"), p.get("MaxResults"), 100, BAD_REQUEST)
    return {"E164PhoneNumbers": page, "NextToken": token}


def _orders(world: World) -> dict[str, Any]:
    return world.table("voice.phone_number_orders")


def _order_view(order: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in order.items() if key[0].isupper()}


@operation(SERVICE, "CreatePhoneNumberOrder")
def create_phone_number_order(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """The order is Processing for a few seconds; then each number is Acquired (it joins the account, Unassigned)
    or Failed (taken meanwhile, or never in the inventory), and the order is Successful, Partial or Failed."""
    numbers = p["E164PhoneNumbers"]
    if not numbers:
        raise ApiError(BAD_REQUEST, "E164PhoneNumbers needs at least one phone number.")
    if len(set(numbers)) != len(numbers):
        raise ApiError(BAD_REQUEST, "E164PhoneNumbers names a phone number twice.")
    malformed = [number for number in numbers if not E164_NUMBER.fullmatch(number)]
    if malformed:
        raise ApiError(BAD_REQUEST, f"{malformed[0]!r:.40} is not an E.164 phone number.")
    order_id = new_uuid()
    order = {
        "PhoneNumberOrderId": order_id,
        "ProductType": p["ProductType"],
        "Status": "Processing",
        "OrderType": "New",
        "OrderedPhoneNumbers": [{"E164PhoneNumber": number, "Status": "Processing"} for number in numbers],
        "CreatedTimestamp": call.now,
        "UpdatedTimestamp": call.now,
        "name": p.get("Name", ""),
        "dueAt": call.now + call.world.timing.phone_number_order,
    }
    _orders(call.world)[order_id] = order
    return {"PhoneNumberOrder": _order_view(order)}


@operation(SERVICE, "GetPhoneNumberOrder")
def get_phone_number_order(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    order = _orders(call.world).get(p["PhoneNumberOrderId"])
    if order is None:
        raise ApiError(NOT_FOUND, f"Phone number order {p['PhoneNumberOrderId']} was not found.")
    return {"PhoneNumberOrder": _order_view(order)}


@operation(SERVICE, "ListPhoneNumberOrders")
def list_phone_number_orders(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    items = sorted(
        _orders(call.world).values(), key=lambda order: (order["CreatedTimestamp"], order["PhoneNumberOrderId"])
    )
    page, token = paginate(items, p.get("NextToken"), p.get("MaxResults"), 100, BAD_REQUEST)
    return {"PhoneNumberOrders": [_order_view(order) for order in page], "NextToken": token}


def _acquire(world: World, order: dict[str, Any], number: str, now: float) -> bool:
    numbers = _numbers(world)
    if number in numbers or number not in INVENTORY:
        return False
    numbers[number] = {
        "PhoneNumberId": number,
        "E164PhoneNumber": number,
        "Country": "US",
        "Type": "TollFree" if number[2:5] in TOLL_FREE_PREFIXES else "Local",
        "ProductType": order["ProductType"],
        "Status": "Unassigned",
        "Capabilities": {key: True for key in ("InboundCall", "OutboundCall", "InboundSMS", "OutboundSMS")}
        | {"InboundMMS": False, "OutboundMMS": False},
        "Associations": [],
        "CreatedTimestamp": now,
        "UpdatedTimestamp": now,
        "OrderId": order["PhoneNumberOrderId"],
        **({"Name": order["name"]} if order["name"] else {}),
    }
    return True


@ticker
def complete_phone_number_orders(world: World, now: float) -> bool:
    completed = False
    for order in _orders(world).values():
        if order["Status"] != "Processing" or now < order["dueAt"]:
            continue
        completed = True
        for ordered in order["OrderedPhoneNumbers"]:
            ordered["Status"] = "Acquired" if _acquire(world, order, ordered["E164PhoneNumber"], now) else "Failed"
        acquired = sum(ordered["Status"] == "Acquired" for ordered in order["OrderedPhoneNumbers"])
        order["Status"] = (
            "Successful" if acquired == len(order["OrderedPhoneNumbers"]) else "Partial" if acquired else "Failed"
        )
        order["UpdatedTimestamp"] = now
    return completed


# --- calls through the API ---------------------------------------------------------------------------------------


def _participant(tag: str, to: str, from_: str, direction: str, now: float) -> dict[str, str]:
    return {
        "CallId": new_uuid(),
        "ParticipantTag": tag,
        "To": to,
        "From": from_,
        "Direction": direction,
        "StartTimeInMilliseconds": str(int(now * 1000)),
        "Status": "Connected",
    }


def _new_call(world: World, sma: dict[str, Any], leg_a: dict[str, str], rule_id: str = "") -> dict[str, Any]:
    transaction_id = new_uuid()
    call = {
        "TransactionId": transaction_id,
        "SipMediaApplicationId": sma["SipMediaApplicationId"],
        "SipRuleId": rule_id,
        "region": sma["AwsRegion"],
        "state": "ringing" if leg_a["Direction"] == "Outbound" else "connected",
        "participants": [leg_a],
        "attributes": {},
        "sequence": 0,
        "waiting": None,  # the action in progress: {"action", "rest", "startedAt", "endsAt", "retry", "tries", ...}
        "listening": None,  # a ReceiveDigits action listening for in-call keys
        "meeting": None,  # {"MeetingId", "AttendeeId"} once joined
        "invocations": [],
        "createdAt": world.clock.time(),
    }
    _calls(world)[transaction_id] = call
    return call


@operation(SERVICE, "CreateSipMediaApplicationCall")
def create_sip_media_application_call(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    world = call.world
    sma = _smas(world).get(p["SipMediaApplicationId"])
    if sma is None:
        raise ApiError(BAD_REQUEST, f"SIP media application {p['SipMediaApplicationId']} does not exist.")
    if p["FromPhoneNumber"] not in _numbers(world):
        raise ApiError(BAD_REQUEST, f"FromPhoneNumber {p['FromPhoneNumber']} is not a phone number of this account.")
    leg_a = _participant("LEG-A", p["ToPhoneNumber"], p["FromPhoneNumber"], "Outbound", call.now)
    leg_a["Status"] = "Disconnected"  # until answered
    created = _new_call(world, sma, leg_a)
    arguments = p.get("ArgumentsMap") or {}
    created["attributes"] = dict(arguments)
    action_data = {
        "Type": "CallCreateRequest",
        "Parameters": {
            "Arguments": arguments,
            "CallTimeoutSeconds": 30,
            "FromPhoneNumber": p["FromPhoneNumber"],
            "ToPhoneNumber": p["ToPhoneNumber"],
            "SipHeaders": p.get("SipHeaders") or {},
        },
    }
    _in_background(world, created["TransactionId"], [("NEW_OUTBOUND_CALL", action_data), ("RINGING", None)])
    return {"SipMediaApplicationCall": {"TransactionId": created["TransactionId"]}}


@operation(SERVICE, "UpdateSipMediaApplicationCall")
def update_sip_media_application_call(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    found = _calls(call.world).get(p["TransactionId"])
    if found is None or found["state"] == "ended" or found["SipMediaApplicationId"] != p["SipMediaApplicationId"]:
        raise ApiError(NOT_FOUND, f"No call {p['TransactionId']} is in progress on this SIP media application.")
    action_data = {"Type": "CallUpdateRequest", "Parameters": {"Arguments": p["Arguments"]}}
    _in_background(call.world, found["TransactionId"], [("CALL_UPDATE_REQUESTED", action_data)])
    return {"SipMediaApplicationCall": {"TransactionId": found["TransactionId"]}}


def _in_background(world: World, transaction_id: str, events: list[tuple[str, dict[str, Any] | None]]) -> None:
    """AWS invokes the handler asynchronously after these APIs answer: so does the sandbox, after the lock is free."""

    def run() -> None:
        for event_type, action_data in events:
            call_event(world, transaction_id, event_type, action_data)

    threading.Thread(target=run, daemon=True, name=f"sma-{transaction_id[:8]}").start()


# --- invoking the handler and running its actions ----------------------------------------------------------------


def endpoint_map(world: World, lambdaArn: str, url: str, secret: str = "") -> dict[str, Any]:
    """Control API: invocations for this Lambda ARN go to `url`, signed with `secret` (else SMA_HANDLER_SECRET)."""
    _endpoints(world)[lambdaArn] = {"url": url, "secret": secret}
    return {"lambdaArn": lambdaArn, "url": url}


def _endpoint(world: World, call: dict[str, Any]) -> tuple[str, str]:
    sma = _smas(world).get(call["SipMediaApplicationId"])
    arn = sma["Endpoints"][0]["LambdaArn"] if sma else ""
    mapped = _endpoints(world).get(arn) or {}
    url = mapped.get("url") or os.environ.get("SANDBOX_SMA_HANDLER_URL", "")
    return url, mapped.get("secret") or os.environ.get("SMA_HANDLER_SECRET", "")


def _event(world: World, call: dict[str, Any], event_type: str, action_data: dict[str, Any] | None) -> dict[str, Any]:
    call["sequence"] += 1
    details: dict[str, Any] = {
        "TransactionId": call["TransactionId"],
        "AwsAccountId": world.account,
        "AwsRegion": call["region"],
        # An outbound call has no rule: AWS's NEW_OUTBOUND_CALL example carries no SipRuleId at all
        # (https://docs.aws.amazon.com/chime-sdk/latest/dg/use-create-call-api.html).
        **({"SipRuleId": call["SipRuleId"]} if call["SipRuleId"] else {}),
        "SipMediaApplicationId": call["SipMediaApplicationId"],
        "Participants": [dict(participant) for participant in call["participants"]],
    }
    if call["attributes"]:
        details["TransactionAttributes"] = dict(call["attributes"])
    event: dict[str, Any] = {
        "SchemaVersion": "1.0",
        "Sequence": call["sequence"],
        "InvocationEventType": event_type,
        "CallDetails": details,
    }
    if action_data is not None:
        event["ActionData"] = action_data
    return event


def _response_problem(document: Any) -> str:
    """What makes a handler's answer one the SMA refuses; "" when it is a valid answer."""
    if not isinstance(document, dict):
        return "The response is not a JSON object."
    actions = document.get("Actions")
    if not isinstance(actions, list):
        return "The response has no Actions list."
    if len(actions) > MAX_ACTIONS:
        return f"The response has {len(actions)} actions; at most {MAX_ACTIONS} are allowed."
    for action in actions:
        if not isinstance(action, dict) or action.get("Type") not in ACTION_TYPES:
            return f"Unknown action {action!r:.80}."
        if not isinstance(action.get("Parameters", {}), dict):
            return f"The {action['Type']} action's Parameters are not an object."
    attributes = document.get("TransactionAttributes", {})
    if not isinstance(attributes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()
    ):
        return "TransactionAttributes must map strings to strings."
    if len(attributes) > MAX_ATTRIBUTES or len(json.dumps(attributes)) > MAX_ATTRIBUTES_BYTES:
        return f"TransactionAttributes hold at most {MAX_ATTRIBUTES} keys and 20 KB."
    return ""


def _post(url: str, secret: str, event: dict[str, Any]) -> tuple[Any, str]:
    """POST the event to the handler: its answer, or why there is none."""
    if not url:
        return None, "No handler URL is mapped to this SIP media application's Lambda ARN."
    body = json.dumps(event).encode()
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    for header, value in signed_headers(secret, body).items():
        request.add_header(header, value)
    try:
        with urllib.request.urlopen(request, timeout=INVOKE_TIMEOUT_SECONDS) as response:
            raw = response.read()
    except (urllib.error.URLError, OSError) as error:
        return None, f"The handler failed: {error}"
    try:
        return json.loads(raw), ""
    except ValueError:
        return None, "The handler's answer is not JSON."


Event = tuple[str, dict[str, Any]]  # an invocation's type and ActionData


def _leg_a(call: dict[str, Any]) -> dict[str, str]:
    return next(p for p in call["participants"] if p["ParticipantTag"] == "LEG-A")


def _hangup_event(leg: dict[str, str]) -> dict[str, Any]:
    """The ActionData of HANGUP for a leg that hung up (or was hung up) with normal clearing."""
    return {
        "Type": "Hangup",
        "Parameters": {"SipResponseCode": "0", "CallId": leg["CallId"], "ParticipantTag": leg["ParticipantTag"]},
    }


def _invoke(
    world: World, transaction_id: str, event_type: str, action_data: dict[str, Any] | None
) -> list[dict[str, Any]] | None:
    """Invoke the handler and return its actions; None ends the call (no handler, two invalid answers, or the call
    has had its invocations). A call's last invocation is the HANGUP of its end: at the cap the SMA hangs up."""
    with world.lock:
        call = _calls(world).get(transaction_id)  # gone when the world was reset meanwhile
        if call is None or len(call["invocations"]) >= MAX_INVOCATIONS:
            return None
        if len(call["invocations"]) == MAX_INVOCATIONS - 1 and event_type != "HANGUP":
            leg_a = _leg_a(call)
            if call["state"] != "ended":
                _disconnect(world, call, leg_a)
            event_type, action_data = "HANGUP", _hangup_event(leg_a)
        event = _event(world, call, event_type, action_data)
        url, secret = _endpoint(world, call)
    document, failure = _post(url, secret, event)
    problem = failure or _response_problem(document)
    with world.lock:
        call["invocations"].append(
            {
                "Sequence": event["Sequence"],
                "InvocationEventType": event_type,
                "problem": problem,
                "actions": [a.get("Type") for a in document.get("Actions", [])] if not problem else [],
            }
        )
        if not problem:
            call["attributes"].update(document.get("TransactionAttributes") or {})
            return list(document["Actions"])
    if failure or event_type == "INVALID_LAMBDA_RESPONSE":
        return None
    return _invoke(
        world, transaction_id, "INVALID_LAMBDA_RESPONSE", {"ErrorType": "InvalidResponse", "ErrorMessage": problem}
    )


def _leg(call: dict[str, Any], parameters: dict[str, Any]) -> dict[str, str] | None:
    """The participant an action names by CallId, else by ParticipantTag, else LEG-A."""
    if parameters.get("CallId"):
        return next((p for p in call["participants"] if p["CallId"] == parameters["CallId"]), None)
    tag = parameters.get("ParticipantTag", "LEG-A")
    return next((p for p in call["participants"] if p["ParticipantTag"] == tag), None)


class ActionFailed(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type, self.message = error_type, message


@dataclass(frozen=True)
class Timed:
    """An action that runs on the call's clock for `seconds` (None: until the caller acts); a digits action's
    later attempts take `retry` seconds each (None: no timeout), `attempts` in all."""

    seconds: float | None
    retry: float | None = None
    attempts: int = 1


def _timed(seconds: float) -> Timed | str:
    return Timed(seconds) if seconds > 0 else ""


def _whole(
    parameters: dict[str, Any], name: str, *, low: int = 1, high: int | None = None, required: bool = False
) -> int | None:
    """A whole-number parameter, given as a number or a string of digits (AWS's examples write both); None when it
    is absent and not required."""
    value = parameters.get(name)
    if value is None and not required:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        raise ActionFailed("InvalidActionParameter", f"{name} parameter value is invalid.")
    return value


def _speech_seconds(speech: Any) -> float:
    """How long Polly speaks a Text (Speak's parameters, or SpeechParameters): its characters outside SSML tags at
    SPEECH_CHARACTERS_PER_SECOND. The errors are the Speak reference's:
    https://docs.aws.amazon.com/chime-sdk/latest/dg/speak.html"""
    text = speech.get("Text") if isinstance(speech, dict) else None
    if not isinstance(text, str) or not text:
        raise ActionFailed("MissingRequiredActionParameter", "Text is a required parameter.")
    if len(text) > 1000:
        raise ActionFailed("MissingRequiredActionParameter", "Text is limited to 1,000 characters")
    return len(SSML_TAG.sub("", text)) / SPEECH_CHARACTERS_PER_SECOND


def _audio_seconds(world: World, source: Any) -> float:
    """How long an AudioSource plays: the length its WAV header gives (frames / frame rate). A source that is not an
    S3 object of this account's, or not a PCM WAV of at most 50 MB, is InvalidAudioSource, as AWS answers."""
    if not isinstance(source, dict) or source.get("Type") != "S3":
        raise ActionFailed("InvalidAudioSource", f"{AUDIO_SOURCE_INVALID}: its Type must be S3.")
    bucket, key = source.get("BucketName"), source.get("Key")
    body = world.moto.object_body(bucket, key) if isinstance(bucket, str) and isinstance(key, str) else None
    if body is None:
        raise ActionFailed("InvalidAudioSource", f"{AUDIO_SOURCE_INVALID}: no object {key!r:.200} in {bucket!r:.70}.")
    if len(body) > MAX_AUDIO_BYTES:
        raise ActionFailed("InvalidAudioSource", f"{AUDIO_SOURCE_INVALID}: {key!r:.200} is larger than 50 MB.")
    try:
        with wave.open(io.BytesIO(body)) as audio:
            frames, rate = audio.getnframes(), audio.getframerate()
    except (wave.Error, EOFError, struct.error, RuntimeError):  # RuntimeError: a chunk larger than the file
        frames, rate = 0, 0
    if rate <= 0:
        raise ActionFailed("InvalidAudioSource", f"{AUDIO_SOURCE_INVALID}: {key!r:.200} is not a PCM .wav file.")
    return frames / rate


def _compiles(pattern: Any) -> bool:
    try:
        re.compile(pattern)
    except (re.error, TypeError):
        return False
    return True


def _digits_action(world: World, kind: str, parameters: dict[str, Any]) -> Timed:
    """A digits action's attempt: its prompt, then RepeatDurationInMilliseconds for the keys. A later attempt plays
    the failure prompt, then the prompt again. Defaults as documented: MinNumberOfDigits 0, MaxNumberOfDigits 128,
    Repeat 1 (https://docs.aws.amazon.com/chime-sdk/latest/dg/speak-and-get-digits.html, play-audio-get-digits.html)."""
    if kind == "SpeakAndGetDigits":
        prompt = _speech_seconds(parameters.get("SpeechParameters"))
        failure = parameters.get("FailureSpeechParameters")
        failure_seconds = _speech_seconds(failure) if failure is not None else 0.0
    else:
        prompt = _audio_seconds(world, parameters.get("AudioSource"))
        failure = parameters.get("FailureAudioSource")
        failure_seconds = _audio_seconds(world, failure) if failure is not None else 0.0
    if "InputDigitsRegex" in parameters and not _compiles(parameters["InputDigitsRegex"]):
        raise ActionFailed("InvalidActionParameter", "InputDigitsRegex parameter value is invalid.")
    _whole(parameters, "MinNumberOfDigits", low=0)
    _whole(parameters, "MaxNumberOfDigits", low=0)
    attempts = _whole(parameters, "Repeat") or 1
    timeout_ms = _whole(parameters, "RepeatDurationInMilliseconds")
    if timeout_ms is None:
        return Timed(None, None, attempts)
    return Timed(prompt + timeout_ms / 1000, failure_seconds + prompt + timeout_ms / 1000, attempts)


def _terminators(parameters: dict[str, Any], name: str, *, required: bool = False) -> list[str]:
    keys = parameters.get(name)
    if keys is None and not required:
        return []
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k in DTMF_KEYS for k in keys):
        raise ActionFailed("InvalidActionParameter", f"{name} parameter value is invalid.")
    return keys


def _recording(world: World, parameters: dict[str, Any]) -> Timed:
    """RecordAudio records until DurationInSeconds, a RecordingTerminators key, or SilenceDurationInSeconds of
    silence (the sandbox's caller is always silent); the errors are the reference's
    (https://docs.aws.amazon.com/chime-sdk/latest/dg/record-audio.html)."""
    destination = parameters.get("RecordingDestination")
    if not (
        isinstance(destination, dict)
        and destination.get("Type") == "S3"
        and isinstance(destination.get("BucketName"), str)
        and isinstance(destination.get("Prefix", ""), str)
        and world.moto.bucket_exists(destination["BucketName"])
    ):
        raise ActionFailed("InvalidActionParameter", "RecordingDestination parameter value is invalid.")
    _terminators(parameters, "RecordingTerminators", required=True)
    limits = [
        _whole(parameters, "DurationInSeconds"),
        _whole(parameters, "SilenceDurationInSeconds", high=1000),
    ]
    _whole(parameters, "SilenceThreshold", high=1000)
    given = [limit for limit in limits if limit is not None]
    return Timed(float(min(given)) if given else None)


def silent_wav(seconds: float, frame_rate: int = RECORDING_FRAME_RATE) -> bytes:
    """Silence as a 16-bit mono PCM WAV: what RecordAudio records of the sandbox's caller."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as recording:
        recording.setnchannels(1)
        recording.setsampwidth(2)
        recording.setframerate(frame_rate)
        recording.writeframes(b"\x00\x00" * round(seconds * frame_rate))
    return buffer.getvalue()


def _recorded(world: World, call: dict[str, Any], waiting: dict[str, Any], at: float) -> dict[str, Any]:
    """Write what RecordAudio recorded (silence, as long as it ran) under the destination's prefix."""
    destination = waiting["action"]["Parameters"]["RecordingDestination"]
    bucket = destination["BucketName"]
    if not world.moto.bucket_exists(bucket):
        raise ActionFailed("InvalidActionParameter", "Error occurred while uploading recording to S3 bucket.")
    key = posixpath.join(destination.get("Prefix", ""), f"{call['TransactionId']}-{new_uuid()}.wav")
    world.moto.put_object(bucket, key, silent_wav(at - waiting["startedAt"]))
    return {"RecordingDestination": {"Type": "S3", "BucketName": bucket, "Key": key}}


def _attendee_in(world: World, meeting_id: str, attendee_id: str) -> dict[str, Any] | None:
    meeting = meetings.meeting_get(world, meeting_id)
    return meeting["attendees"].get(attendee_id) if meeting else None


def _run_one(world: World, call: dict[str, Any], action: dict[str, Any]) -> str | Timed:
    """Start one action under the world's lock: "" when it is done at once, "hangup" for a leg hung up, Timed for
    one that runs on the call's clock (media, digits). Raises ActionFailed."""
    kind, parameters = action["Type"], action.get("Parameters") or {}
    leg = _leg(call, parameters)
    cancelling = kind == "Hangup" and call["state"] == "ringing"  # an outbound call hung up before it is answered
    if leg is None or (leg["Status"] != "Connected" and not cancelling):
        raise ActionFailed("InvalidActionParameter", "CallId or ParticipantTag names no connected participant.")
    if kind == "Speak":
        return _timed(_speech_seconds(parameters))
    if kind in DIGITS_ACTIONS:
        return _digits_action(world, kind, parameters)
    if kind == "PlayAudio":
        _terminators(parameters, "PlaybackTerminators")
        repeat = _whole(parameters, "Repeat") or 1
        return _timed(_audio_seconds(world, parameters.get("AudioSource")) * repeat)
    if kind == "Pause":
        return _timed(_whole(parameters, "DurationInMilliseconds", required=True) / 1000)  # type: ignore[operator]
    if kind == "RecordAudio":
        return _recording(world, parameters)
    if kind == "ReceiveDigits":
        if not isinstance(parameters.get("InputDigitsRegex"), str) or not _compiles(parameters["InputDigitsRegex"]):
            raise ActionFailed("InvalidActionParameter", "InputDigitsRegex is required: a valid regular expression.")
        call["listening"] = action
    elif kind == "JoinChimeMeeting":
        _join(world, call, leg, parameters)
    elif kind == "ModifyChimeMeetingAttendees":
        _modify_attendees(world, call, parameters)
    elif kind == "Hangup":
        if str(parameters.get("SipResponseCode", "0")) not in SIP_RESPONSE_CODES:
            raise ActionFailed("InvalidActionParameter", f"SipResponseCode must be one of {SIP_RESPONSE_CODES}.")
        _disconnect(world, call, leg)
        return "hangup"
    elif kind == "CallAndBridge":
        raise ActionFailed("SystemException", "The sandbox does not bridge calls.")
    return ""


def _join(world: World, call: dict[str, Any], leg: dict[str, str], parameters: dict[str, Any]) -> None:
    if leg["ParticipantTag"] != "LEG-A" or call["meeting"] is not None:
        raise ActionFailed("InvalidActionParameter", "Only LEG-A of a call not yet in a meeting can join one.")
    token = parameters.get("JoinToken")
    if not isinstance(token, str) or not token:
        raise ActionFailed("InvalidActionParameter", "JoinToken parameter value is invalid.")
    try:
        joined = meetings.attendee_join(world, token)
    except ApiError as error:
        raise ActionFailed("InvalidActionParameter", f"JoinToken parameter value is invalid: {error.message}") from None
    if parameters.get("MeetingId") not in (None, joined["meetingId"]):
        meetings.attendee_leave(world, joined["meetingId"], joined["attendeeId"])
        raise ActionFailed("InvalidActionParameter", "MeetingId does not match the JoinToken's meeting.")
    call["meeting"] = {"MeetingId": joined["meetingId"], "AttendeeId": joined["attendeeId"]}
    leg_b = _participant("LEG-B", leg["From"], leg["To"], "Outbound", world.clock.time())
    call["participants"].append(leg_b)


def _modify_attendees(world: World, call: dict[str, Any], parameters: dict[str, Any]) -> None:
    operation_name, attendee_ids = parameters.get("Operation"), parameters.get("AttendeeList")
    if operation_name not in ("Mute", "Unmute"):
        raise ActionFailed("InvalidActionParameter", "Operation must be Mute or Unmute.")
    if not isinstance(attendee_ids, list) or not 1 <= len(attendee_ids) <= 100:
        raise ActionFailed("InvalidActionParameter", "AttendeeList must hold 1 to 100 attendee ids.")
    meeting_id = parameters.get("MeetingId")
    if call["meeting"] is None or meeting_id != call["meeting"]["MeetingId"]:
        raise ActionFailed("InvalidActionParameter", "MeetingId is not the meeting this call is in.")
    for attendee_id in attendee_ids:
        attendee = _attendee_in(world, meeting_id, attendee_id) if isinstance(attendee_id, str) else None
        if attendee is None:
            raise ActionFailed("InvalidActionParameter", f"Attendee {attendee_id!r:.64} is not in the meeting.")
        attendee["muted"] = operation_name == "Mute"


def _leave_meeting(world: World, call: dict[str, Any]) -> None:
    joined = call["meeting"]
    attendee = _attendee_in(world, joined["MeetingId"], joined["AttendeeId"])
    if attendee is not None and attendee["connected"]:
        meetings.attendee_leave(world, joined["MeetingId"], joined["AttendeeId"])
    for participant in call["participants"]:
        if participant["ParticipantTag"] == "LEG-B":
            participant["Status"] = "Disconnected"


def _disconnect(world: World, call: dict[str, Any], leg: dict[str, str]) -> None:
    """A leg hangs up. LEG-A leaving ends the call (and its meeting connection); LEG-B leaves the meeting."""
    leg["Status"] = "Disconnected"
    if call["meeting"] is not None:
        _leave_meeting(world, call)
    if leg["ParticipantTag"] == "LEG-A":
        for participant in call["participants"]:
            participant["Status"] = "Disconnected"
        call["state"] = "ended"
        call["waiting"] = call["listening"] = None


def _failed(action: dict[str, Any], error_type: str, message: str) -> Event:
    return ("ACTION_FAILED", {**_action_data(action), "ErrorType": error_type, "ErrorMessage": message})


def _run(world: World, call: dict[str, Any], actions: list[dict[str, Any]], at: float) -> Event | None:
    """Run a handler's actions in order from `at` (sandbox time), under the world's lock: the event that reports
    their outcome, or None when one is now in progress (it reports when it ends)."""
    last: dict[str, Any] = {}
    for index, action in enumerate(actions):
        try:
            outcome = _run_one(world, call, action)
        except ActionFailed as failure:
            return _failed(action, failure.error_type, failure.message)
        if outcome == "hangup":
            return ("HANGUP", _hangup_data(action, call))
        if isinstance(outcome, Timed):
            call["waiting"] = {
                "action": action,
                "rest": actions[index + 1 :],
                "startedAt": at,
                "endsAt": None if outcome.seconds is None else at + outcome.seconds,
                "retry": outcome.retry,
                "tries": 0,
                "attempts": outcome.attempts,
                "replaced": False,  # True once a later answer replaced the actions after it
            }
            return None
        last = action
    return ("ACTION_SUCCESSFUL", _action_data(last))


def _attempt_failed(world: World, call: dict[str, Any], at: float) -> Event | None:
    """The caller's keys for the digits action in progress did not fit (or none came before its timeout): the
    failure prompt and the prompt play again, until its attempts are used up (ACTION_FAILED, or the actions a later
    answer gave, which were waiting for it to finish)."""
    waiting = call["waiting"]
    waiting["tries"] += 1
    if waiting["tries"] >= waiting["attempts"]:
        call["waiting"] = None
        if waiting["replaced"]:
            return _run(world, call, waiting["rest"], at)
        return _failed(waiting["action"], "InvalidDigitsReceived", "The caller entered no digits that fit the action.")
    waiting["endsAt"] = None if waiting["retry"] is None else at + waiting["retry"]
    return None


def _complete(world: World, call: dict[str, Any], at: float, terminator: str = "") -> Event | None:
    """The action in progress ends at `at` (its media played out, or a terminator key was pressed): the actions
    after it run from then, or the event that reports it."""
    waiting = call["waiting"]
    action = waiting["action"]
    if action["Type"] in DIGITS_ACTIONS:
        return _attempt_failed(world, call, at)
    call["waiting"] = None
    outcome: dict[str, Any] = {}
    if action["Type"] == "RecordAudio":
        try:
            outcome = _recorded(world, call, waiting, at)
        except ActionFailed as failure:
            return _failed(action, failure.error_type, failure.message)
        if terminator:
            outcome["RecordingTerminatorUsed"] = terminator
    if waiting["rest"]:
        return _run(world, call, waiting["rest"], at)
    return ("ACTION_SUCCESSFUL", {**_action_data(action), **outcome})


def _drive(world: World, transaction_id: str, event_type: str, action_data: dict[str, Any] | None, at: float) -> None:
    """Invoke the handler with an event and run what it answers, event after event, until an action is in progress,
    the answer is empty or the call ends. While an action is in progress, an answer replaces the actions after it
    ("The application finishes running the current action ... then replaces the old action set",
    https://docs.aws.amazon.com/chime-sdk/latest/dg/invoke-on-call-leg.html); the answer to CALL_UPDATE_REQUESTED
    interrupts an interruptible one first, which the handler hears as ACTION_INTERRUPTED."""
    interrupted_by: list[dict[str, Any]] = []
    while True:
        answered = _invoke(world, transaction_id, event_type, action_data)
        with world.lock:
            call = _calls(world).get(transaction_id)
            if call is None:  # the world was reset meanwhile
                return
            if answered is None:  # the handler failed twice or cannot be reached: the SMA drops the call
                if call["state"] != "ended":
                    _disconnect(world, call, _leg_a(call))
                return
            if event_type == "ACTION_INTERRUPTED":
                actions = interrupted_by
            else:
                actions = [] if event_type in ANSWER_IGNORED else answered
            if call["state"] == "ended" or not actions:
                return
            waiting = call["waiting"]
            following: Event | None
            if waiting is None:
                following = _run(world, call, actions, at)
            elif event_type == "CALL_UPDATE_REQUESTED" and waiting["action"]["Type"] in INTERRUPTIBLE:
                call["waiting"] = None
                interrupted_by = actions
                following = ("ACTION_INTERRUPTED", _action_data(waiting["action"]))
            else:
                waiting["rest"], waiting["replaced"] = actions, True
                return
        if following is None:
            return
        event_type, action_data = following


def _action_data(action: dict[str, Any]) -> dict[str, Any]:
    return {"Type": action.get("Type"), "Parameters": action.get("Parameters") or {}}


def _hangup_data(action: dict[str, Any], call: dict[str, Any]) -> dict[str, Any]:
    parameters = action.get("Parameters") or {}
    leg = _leg(call, parameters) or call["participants"][0]
    return {
        "Type": "Hangup",
        "Parameters": {
            "SipResponseCode": str(parameters.get("SipResponseCode", "0")),
            "CallId": leg["CallId"],
            "ParticipantTag": leg["ParticipantTag"],
        },
    }


def call_event(world: World, transaction_id: str, event_type: str, action_data: dict[str, Any] | None) -> None:
    """Invoke the handler with one event and run what it answers, one event of a call at a time. It runs in a thread
    of its own after the request that caused it has answered: the changes it made are the world's to keep."""
    with _call_lock(transaction_id):
        with world.lock:
            call = _calls(world).get(transaction_id)  # gone when the world was reset while the call's event waited
            if call is None or (call["state"] == "ended" and event_type != "HANGUP"):
                return
            at = world.clock.time()
        try:
            _drive(world, transaction_id, event_type, action_data, at)
        finally:
            world.touch()


def _due(call: dict[str, Any], now: float) -> bool:
    waiting = call["waiting"]
    if call["state"] == "ended" or waiting is None or waiting["endsAt"] is None:
        return False
    return waiting["endsAt"] <= now


def settle_call(world: World, transaction_id: str) -> None:
    """Finish the call's actions in progress that the clock has run to the end, one after another: each reports
    (or the next starts) at the moment it ended, so a clock advanced by an hour plays an hour of a call."""
    with _call_lock(transaction_id):
        try:
            while True:
                with world.lock:
                    call = _calls(world).get(transaction_id)
                    if call is None or not _due(call, world.clock.time()):
                        return
                    at = call["waiting"]["endsAt"]
                    following = _complete(world, call, at)
                if following is not None:
                    _drive(world, transaction_id, *following, at)
        finally:
            with world.lock:
                _settling.discard(transaction_id)
            world.touch()


def settle_calls(world: World) -> None:
    """Finish every call's due actions before answering (the control API does, after the clock moves or before a
    call's step), so that what a test advanced past has happened when the answer comes."""
    with world.lock:
        now = world.clock.time()
        due = [transaction_id for transaction_id, call in _calls(world).items() if _due(call, now)]
    for transaction_id in due:
        settle_call(world, transaction_id)


@ticker
def settle_due_actions(world: World, now: float) -> bool:
    """As the clock runs, media that has played out ends and the call goes on, in a thread of its own."""
    started = False
    for transaction_id, call in _calls(world).items():
        if transaction_id not in _settling and _due(call, now):
            _settling.add(transaction_id)
            threading.Thread(target=settle_call, args=(world, transaction_id), daemon=True).start()
            started = True
    return started


# --- the world around the API: callers dial, press keys, answer and hang up --------------------------------------


def _call_view(world: World, transaction_id: str) -> dict[str, Any]:
    with world.lock:
        call = _calls(world)[transaction_id]
        waiting = call["waiting"]["action"]["Type"] if call["waiting"] else None
        view = {key: call[key] for key in ("TransactionId", "state", "participants", "meeting", "attributes")}
        return json.loads(
            json.dumps(
                {
                    **view,
                    "waitingFor": waiting,
                    "listening": call["listening"] is not None,
                    "invocations": call["invocations"],
                }
            )
        )


def _live_call(world: World, transaction_id: str) -> dict[str, Any]:
    call = _calls(world).get(transaction_id)
    if call is None:
        raise ApiError("NoSuchCall", f"No call {transaction_id}.", status=404)
    if call["state"] == "ended":
        raise ApiError("CallEnded", f"Call {transaction_id} has ended.", status=409)
    return call


def call_dial(world: World, fromNumber: str, toNumber: str) -> dict[str, Any]:
    """A caller dials one of the account's numbers: the SIP rule for it picks the SMA, which gets NEW_INBOUND_CALL."""
    with world.lock:
        rules = [r for r in _rules(world).values() if r["TriggerType"] == "ToPhoneNumber" and not r["Disabled"]]
        rule = next((r for r in rules if r["TriggerValue"] == toNumber and r["TargetApplications"]), None)
        if rule is None:
            raise ApiError("NoSipRule", f"No enabled SIP rule answers {toNumber}: the caller hears it ring out.", 404)
        target = min(rule["TargetApplications"], key=lambda t: t["Priority"])
        sma = _sma(world, target["SipMediaApplicationId"])
        leg_a = _participant("LEG-A", toNumber, fromNumber, "Inbound", world.clock.time())
        transaction_id = _new_call(world, sma, leg_a, rule["SipRuleId"])["TransactionId"]
    call_event(world, transaction_id, "NEW_INBOUND_CALL", None)
    return _call_view(world, transaction_id)


def _digits_fit(parameters: dict[str, Any], entered: str) -> bool:
    """Whether the caller's keys (the terminator left off) answer a digits action: as many as MinNumberOfDigits to
    MaxNumberOfDigits, and InputDigitsRegex found in them. AWS searches for the pattern rather than matching the
    whole input: its reference's own pattern anchors itself (`^\\d{2}#$`,
    https://docs.aws.amazon.com/chime-sdk/latest/dg/play-audio-get-digits.html), and AWS's published sample
    (aws-samples/amazon-chime-sdk-sma-meeting-dialer) takes a 6-digit id with "[0-9]" and Min/Max 6."""
    low = _whole(parameters, "MinNumberOfDigits", low=0)
    high = _whole(parameters, "MaxNumberOfDigits", low=0)
    regex = parameters.get("InputDigitsRegex")
    fits_pattern = not regex or re.search(regex, entered) is not None
    return fits_pattern and (0 if low is None else low) <= len(entered) <= (128 if high is None else high)


def _pressed(world: World, call: dict[str, Any], digits: str, now: float) -> Event | None:
    """What the caller's keys do: answer the digits action in progress, end the playback or recording in progress
    with one of its terminators, else reach a ReceiveDigits listener (DIGITS_RECEIVED)."""
    waiting, listening = call["waiting"], call["listening"]
    if waiting is not None and waiting["action"]["Type"] in DIGITS_ACTIONS:
        action = waiting["action"]
        parameters = action.get("Parameters") or {}
        terminators = parameters.get("TerminatorDigits") or ["#"]
        entered = digits[:-1] if digits and digits[-1] in terminators else digits
        if not _digits_fit(parameters, entered):
            return _attempt_failed(world, call, now)
        call["waiting"] = None
        if waiting["rest"]:  # the actions after it run once the digits are in; the last one's outcome is reported
            return _run(world, call, waiting["rest"], now)
        return ("ACTION_SUCCESSFUL", {**_action_data(action), "ReceivedDigits": entered})
    if waiting is not None and waiting["action"]["Type"] in TERMINATED_BY:
        parameters = waiting["action"].get("Parameters") or {}
        ending = parameters.get(TERMINATED_BY[waiting["action"]["Type"]]) or []
        terminator = next((key for key in digits if key in ending), "")
        if terminator:
            return _complete(world, call, now, terminator)
    heard = listening is not None and digits and re.search(listening["Parameters"]["InputDigitsRegex"], digits)
    if heard:
        return ("DIGITS_RECEIVED", {**_action_data(listening), "ReceivedDigits": digits})
    return None


def call_press(world: World, transactionId: str, digits: str) -> dict[str, Any]:
    """The caller presses keys ("" is silence until the timeout): the digits action in progress gets them, the
    terminators of a playback or recording end it, else a ReceiveDigits listener hears them."""
    with _call_lock(transactionId):
        with world.lock:
            call = _live_call(world, transactionId)
            now = world.clock.time()
            following = _pressed(world, call, digits, now)
        if following is not None:
            _drive(world, transactionId, *following, now)
    return _call_view(world, transactionId)


def call_answer(world: World, transactionId: str) -> dict[str, Any]:
    """The dialled phone of an outbound call is picked up: CALL_ANSWERED."""
    with world.lock:
        call = _live_call(world, transactionId)
        if call["state"] != "ringing":
            raise ApiError("NotRinging", f"Call {transactionId} is not ringing.", status=409)
        call["state"] = "connected"
        call["participants"][0]["Status"] = "Connected"
    call_event(world, transactionId, "CALL_ANSWERED", None)
    return _call_view(world, transactionId)


def call_hangup(world: World, transactionId: str) -> dict[str, Any]:
    """The phone hangs up: LEG-A disconnects (ending whatever was in progress), and the handler hears HANGUP."""
    with _call_lock(transactionId):
        with world.lock:
            call = _live_call(world, transactionId)
            leg_a = _leg_a(call)
            _disconnect(world, call, leg_a)
            now = world.clock.time()
        _drive(world, transactionId, "HANGUP", _hangup_event(leg_a), now)
    return _call_view(world, transactionId)


def call_get(world: World, transactionId: str) -> dict[str, Any]:
    with world.lock:
        if transactionId not in _calls(world):
            raise ApiError("NoSuchCall", f"No call {transactionId}.", status=404)
    return _call_view(world, transactionId)


def _answer_quietly(world: World, transaction_id: str) -> None:
    with contextlib.suppress(ApiError):  # hung up meanwhile
        call_answer(world, transaction_id)


@ticker
def answer_ringing_calls(world: World, now: float) -> bool:
    """With SANDBOX_CALL_ANSWER_SECONDS set (`make run` sets it), a dialled phone picks up after that many seconds;
    without it, the control API answers. Which calls are being answered is this process's own: a call still ringing
    when the sandbox restarts is answered by the next one."""
    try:
        after = float(os.environ.get("SANDBOX_CALL_ANSWER_SECONDS", ""))
    except ValueError:
        return False
    started = False
    for call in _calls(world).values():
        transaction_id = call["TransactionId"]
        if call["state"] == "ringing" and transaction_id not in _answering and now >= call["createdAt"] + after:
            _answering.add(transaction_id)
            threading.Thread(target=_answer_quietly, args=(world, transaction_id), daemon=True).start()
            started = True
    return started
