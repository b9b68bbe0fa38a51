"""Fuzz the sandbox: whatever arrives, it answers as AWS would -- a 4xx, never a 5xx, never a crash.

Requests are generated from botocore's models (every operation of the four simulated services, with valid-ish and
mutated members, wrong types, missing members, huge and odd strings) and by hand (bad JSON, content types, paths,
methods, auth headers, lengths), and sent straight to the WSGI application, which is what the server runs. Faults
are not injected, so no answer may be a 5xx. Every 5xx is tallied by cause before the test fails, so one run lists
all that is wrong. The control API gets the same treatment, and after each call the sandbox must still work.
"""

from __future__ import annotations

import base64
import json
import math
import re
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import pytest
from botocore.model import OperationModel, Shape
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from rtc_sandbox.app import Sandbox
from rtc_sandbox.control import ROUTES
from rtc_sandbox.protocol import compiled_pattern
from rtc_sandbox.quotas import RateLimits
from rtc_sandbox.world import HANDLERS

SERVICE_EXAMPLES = 2_600  # each sends one request from the models and three malformed variants of it
MALFORMED_PER_EXAMPLE = 3
CONTROL_EXAMPLES = 700  # one or two control calls each, then the checks
RENEW_EVERY = 600  # requests; the fuzz deletes the resources it aims at, so they are made again
CONTROL_RENEW_EVERY = 100  # control calls
REGION = "us-east-1"
MISSING_ID = "00000000-0000-4000-8000-000000000000"


# --- sending and tallying ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str  # already percent-encoded
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_length: str | None = None  # a CONTENT_LENGTH that disagrees with the body

    def describe(self) -> str:
        shown = self.body[:160] + (b"..." if len(self.body) > 160 else b"")
        query = f"?{self.query[:80]}" if self.query else ""
        return f"{self.method} {self.path[:120]}{query} {dict(self.headers)} {shown!r}"[:600]


def _cause(error: BaseException) -> str:
    frame = traceback.extract_tb(error.__traceback__)[-1]
    where = "/".join(frame.filename.split("/")[-2:])
    return f"{type(error).__name__} in {frame.name} ({where}:{frame.lineno})"


@dataclass
class Wire:
    """Sends requests to the WSGI app; counts them, and tallies every 5xx (or exception) and other problem by cause."""

    app: Sandbox
    sent: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.client = Client(self.app)

    def send(self, request: HttpRequest) -> tuple[int, bytes]:
        self.sent += 1
        overrides = {"CONTENT_LENGTH": request.content_length} if request.content_length is not None else {}
        target = f"{request.path}?{request.query}" if request.query else request.path
        try:
            response = self.client.open(
                target, method=request.method, headers=request.headers, data=request.body, environ_overrides=overrides
            )
        except Exception as error:  # the server would answer 500 Internal Server Error
            self.record(_cause(error), request)
            return 500, b""
        body = response.get_data()
        if response.status_code >= 500:
            first_line = body.decode(errors="replace").strip().splitlines()[:1]
            self.record(f"{response.status_code} {first_line[0][:100] if first_line else ''}", request)
        return response.status_code, body

    def record(self, cause: str, request: HttpRequest) -> None:
        self.failures[cause] += 1
        self.examples.setdefault(cause, request.describe())

    def report(self) -> str:
        lines = [f"{sum(self.failures.values())} problems in {self.sent} requests (5xx answers unless noted):"]
        for cause, count in self.failures.most_common():
            lines.append(f"  {count:6d}  {cause}\n          e.g. {self.examples[cause]}")
        return "\n".join(lines)


def authorization(signing_name: str) -> dict[str, str]:
    """A well-formed SigV4 header set; the sandbox reads the scope and does not verify the signature."""
    return {
        "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{signing_name}/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}",
        "X-Amz-Date": "20260101T000000Z",
    }


# --- a world to aim at ------------------------------------------------------------------------------------------------


def _control(wire: Wire, path: str, document: dict[str, Any]) -> dict[str, Any]:
    status, body = wire.send(HttpRequest("POST", f"/_sandbox/{path}", body=json.dumps(document).encode()))
    assert status == 200, body
    return json.loads(body)


@dataclass
class Targets:
    """One of each resource, made through the wire: identifiers keyed by the (lower-cased) member names that take them.

    The fuzz deletes what it finds, so `renew` resets the world and makes everything again; the lists are refilled in
    place, which is what the strategies read from.
    """

    wire: Wire
    pools: dict[str, list[str]] = field(default_factory=dict)
    generation: int = 0

    def renew(self) -> None:
        self.generation += 1
        suffix = f"fuzz-{self.generation}"
        _control(self.wire, "reset", {})
        bucket = "fuzz-capture"
        self.wire.send(HttpRequest("PUT", f"/{bucket}", headers=authorization("s3")))
        new_meeting = {"ClientRequestToken": suffix, "MediaRegion": REGION, "ExternalMeetingId": suffix}
        meeting = self._call("chime", "POST", "/meetings", new_meeting)["Meeting"]
        meeting_id = meeting["MeetingId"]
        attendee = self._call("chime", "POST", f"/meetings/{meeting_id}/attendees", {"ExternalUserId": suffix})
        _control(self.wire, "meetings/join", {"joinToken": attendee["Attendee"]["JoinToken"]})
        stage = self._call("ivs", "POST", "/CreateStage", {"name": suffix, "participantTokenConfigurations": [{}]})
        token = stage["participantTokens"][0]["token"]
        joined = _control(self.wire, "stages/join", {"token": token, "publish": True})
        channel_arn = self._call("kinesisvideo", "POST", "/createSignalingChannel", {"ChannelName": suffix})[
            "ChannelARN"
        ]
        _control(self.wire, "clock", {"advance": 5})
        channel = self._call("kinesisvideo", "POST", "/describeSignalingChannel", {"ChannelARN": channel_arn})
        capture = {
            "SourceType": "ChimeSdkMeeting",
            "SourceArn": f"arn:aws:chime::123456789012:meeting:{meeting_id}",
            "SinkType": "S3Bucket",
            "SinkArn": f"arn:aws:s3:::{bucket}",
        }
        pipeline = self._call("chime", "POST", "/sdk-media-capture-pipelines", capture)["MediaCapturePipeline"]
        offsets = [base64.urlsafe_b64encode(f"offset:{n}".encode()).decode() for n in (1, -1, 10**12)]
        pools = {
            "meetingid": [meeting_id, MISSING_ID],
            "primarymeetingid": [meeting_id],
            "attendeeid": [attendee["Attendee"]["AttendeeId"], MISSING_ID],
            "attendeeids": [attendee["Attendee"]["AttendeeId"]],
            "arn": [stage["stage"]["arn"]],
            "stagearn": [stage["stage"]["arn"]],
            "resourcearn": [meeting["MeetingArn"], stage["stage"]["arn"], channel_arn, pipeline["MediaPipelineArn"]],
            "sessionid": [joined["sessionId"]],
            "participantid": [joined["participantId"]],
            "token": [token],
            "jointoken": [attendee["Attendee"]["JoinToken"]],
            "channelarn": [channel_arn],
            "channelname": [suffix],
            "comparisonvalue": ["fuzz"],
            "currentversion": [channel["ChannelInfo"]["Version"]],
            "mediapipelineid": [pipeline["MediaPipelineId"], MISSING_ID],
            "sourcearn": [capture["SourceArn"]],
            "sinkarn": [capture["SinkArn"], "arn:aws:s3:::fuzz-missing"],
            "nexttoken": [*offsets, "not base64!", base64.urlsafe_b64encode(b"offset:x").decode()],
            "mediaregion": [REGION, "mars-east-1"],
        }
        for key, values in pools.items():
            self.pools.setdefault(key, [])[:] = values

    def pooled(self, name: str) -> st.SearchStrategy[str] | None:
        """One of the identifiers for this member name, read when drawn (so after a renewal, the new ones)."""
        pool = self.pools.get(name.lower())
        return st.integers(0, len(pool) - 1).map(lambda index: pool[index]) if pool else None

    def _call(self, signing_name: str, method: str, path: str, document: dict[str, Any]) -> dict[str, Any]:
        headers = {**authorization(signing_name), "Content-Type": "application/json"}
        status, body = self.wire.send(HttpRequest(method, path, headers=headers, body=json.dumps(document).encode()))
        assert status < 300, body
        return json.loads(body) if body else {}


# --- requests from the models -----------------------------------------------------------------------------------------

ODD_STRINGS = (
    "", " ", "\x00", "\ud800", "a\udfffb", "%", "%2F", "%ZZ", "../..", "/", "a/b", "?x=1", "#", "\u202e", "\U0001f4a5",
    "\uffff", "\xff", "null", "-1", "{}", "aws:tag",
)  # fmt: skip
WRONG_TYPES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
)
ODD_TEXT = st.one_of(
    st.sampled_from(ODD_STRINGS),
    st.sampled_from([1025, 70_000]).map(lambda size: "a" * size),
    st.text(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=24),
)
NAME_TEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"


def _mostly(usual: st.SearchStrategy[Any], *others: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`usual` five times in six (hypothesis' one_of draws its branches evenly, and drops repeated ones)."""
    return st.sampled_from([usual] * (5 * len(others)) + list(others)).flatmap(lambda chosen: chosen)


@dataclass
class ModelValues:
    """Hypothesis strategies for an operation's input, aimed at the seeded world.

    Without `mutate` the values fit the model (enums, patterns, lengths, ranges) or come from the seeded world, so
    requests reach the handlers; with it, members are now and then of the wrong type, odd, huge or missing.
    """

    targets: Targets
    mutate: bool
    built: dict[str, st.SearchStrategy[dict[str, Any]]] = field(default_factory=dict)

    def params(self, operation: OperationModel) -> st.SearchStrategy[dict[str, Any]]:
        """Built once per operation: hypothesis validates a strategy the first time it draws from it."""
        if operation.name not in self.built:
            shape = operation.input_shape
            self.built[operation.name] = self.structure(shape, 0) if shape is not None else st.just({})
        return self.built[operation.name]

    def member(self, name: str, shape: Shape, depth: int) -> st.SearchStrategy[Any]:
        valid = self.valid(name, shape, depth)
        return _mostly(valid, WRONG_TYPES, ODD_TEXT) if self.mutate else valid

    def valid(self, name: str, shape: Shape, depth: int) -> st.SearchStrategy[Any]:
        kind, meta = shape.type_name, shape.metadata
        if depth > 6:
            return st.none()
        if kind == "structure":
            return self.structure(shape, depth)
        if kind == "list":
            items = self.member(name, shape.member, depth + 1)
            return st.lists(
                items, min_size=meta.get("min", 0), max_size=max(meta.get("min", 0), min(3, meta.get("max", 3)))
            )
        if kind == "map":
            key = self.valid(name, shape.key, depth + 1)  # JSON keys are always strings
            keys = st.one_of(key, ODD_TEXT) if self.mutate else key
            return st.dictionaries(keys, self.member(name, shape.value, depth + 1), max_size=3)
        if kind == "string":
            return self.string(name, shape)
        if kind in ("integer", "long"):
            low, high = meta.get("min", -(2**31)), meta.get("max", 2**31)
            edges = [0, -1, 2**31, 2**63, -(2**63) - 1, 10**30]
            return (
                st.one_of(st.integers(low - 1, high + 1), st.sampled_from(edges))
                if self.mutate
                else st.integers(low, high)
            )
        if kind == "boolean":
            return st.booleans()
        return st.one_of(st.floats(), st.text(max_size=30))  # timestamps, blobs, floats: no simulated op takes them

    def string(self, name: str, shape: Shape) -> st.SearchStrategy[str]:
        if shape.enum:
            return st.sampled_from(shape.enum)
        low, high = shape.metadata.get("min", 0), shape.metadata.get("max", 64)
        pattern = compiled_pattern(shape.metadata.get("pattern", ".*"))
        text = (st.from_regex(pattern, fullmatch=True) if pattern is not None else st.text(NAME_TEXT)).filter(
            lambda value: low <= len(value) <= high
        )
        pooled = self.targets.pooled(name)
        return text if pooled is None else _mostly(pooled, text)

    def structure(self, shape: Shape, depth: int) -> st.SearchStrategy[dict[str, Any]]:
        members = {name: self.member(name, member, depth + 1) for name, member in shape.members.items()}
        required = sorted(set(shape.required_members) & set(members))
        fixed = st.fixed_dictionaries(
            {name: members[name] for name in required},
            optional={name: value for name, value in members.items() if name not in required},
        )
        if not self.mutate:
            return fixed
        # Now and then a required member goes missing, or a member the model does not know appears.
        change = st.sampled_from([None] * 6 + required + ["+unknown"])
        return st.tuples(fixed, change).map(_drop_or_add)


def _drop_or_add(pair: tuple[dict[str, Any], str | None]) -> dict[str, Any]:
    document, change = pair
    if change == "+unknown":
        return {**document, "unexpectedMember": {"x": 1}}
    return {key: value for key, value in document.items() if key != change}


def _text(value: Any) -> bytes:
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else json.dumps(value).encode()


def model_request(operation: OperationModel, signing_name: str, params: dict[str, Any]) -> HttpRequest:
    """The rest-json request for params, however wrong their types: uri, querystring and body members."""
    path, _, static = operation.http["requestUri"].partition("?")
    query = [static] if static else []
    document: dict[str, Any] = {}
    shape = operation.input_shape
    for name, member in (shape.members if shape else {}).items():
        if name not in params:
            continue
        value, location = params[name], member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            path = path.replace(f"{{{wire}}}", quote(_text(value), safe="")).replace(
                f"{{{wire}+}}", quote(_text(value), safe="/")
            )
        elif location == "querystring":
            pairs = [(wire, item) for item in value] if isinstance(value, list) else [(wire, value)]
            query += [f"{quote(wire, safe='')}={quote(_text(item), safe='')}" for wire, item in pairs]
        else:
            document[wire] = value
    path = re.sub(r"\{[^}]*\}", "", path)  # a missing uri member leaves an empty segment
    headers = {**authorization(signing_name), "Content-Type": "application/json"}
    body = json.dumps(document).encode() if document or operation.http["method"] in ("POST", "PUT") else b""
    return HttpRequest(operation.http["method"], path, "&".join(query), headers, body)


# --- hand-made malformed requests -------------------------------------------------------------------------------------


def _labelled(*values: Any) -> dict[str, Any]:
    """Values keyed by a short label, so that hypothesis and the failure report never print a megabyte."""
    return {repr(value)[:40] + (f"...({len(value)})" if len(repr(value)) > 40 else ""): value for value in values}


MALFORMED_BODIES = _labelled(
    b"", b"{", b"{not json", b"[1, 2]", b'"text"', b"null", b"7", b"\xff\xfe\xfd", b"\xef\xbb\xbf{}",
    "{}".encode("utf-16"), b'{"a": 1, "a": 2}', b"\x00" * 64, b"\x1f\x8b\x08\x00", b"[" * 100_000 + b"]" * 100_000,
    b'{"a": "' + b"x" * 1_000_000 + b'"}', b"{" + b'"a":{' * 50_000 + b"}" * 50_001,
)  # fmt: skip
RAW_VALUES = _labelled(
    b"9" * 5_000, b"-" + b"9" * 5_000, b"1" + b"0" * 300, b"1e999999", b"NaN", b"-Infinity", b"1.5", b"true",
    b'"\\ud800"', b'{"\\udc00": "\\ud800"}', b'["\\ud800"]', b"[" * 5_000 + b"]" * 5_000, b'"\\u0000"',
)  # fmt: skip
CONTENT_TYPES = _labelled(
    None, "application/json", "application/x-amz-json-1.1", "text/plain", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=", "multipart/form-data", "application/json; charset=utf-16", "\x7f", "a" * 5_000,
)  # fmt: skip
PATHS = _labelled(
    "", "/", "//", "/..", "/%", "/%ZZ", "/%00", "/%2F%2F", "/" + "a" * 10_000, "/meetings/%ED%A0%80", "/tags/arn%3Aaws",
    "/_sandbox", "/_sandbox/%ZZ", "/CreateStage/", "/createstage", "/meetings/" + "x/" * 200,
    "/sdk-media-pipelines/%2F",
)  # fmt: skip
METHODS = _labelled("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "BREW", "post")
AUTHORIZATIONS = _labelled(
    None, "", "Basic dXNlcjpwYXNz", "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=x",
    "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=zz",
    f"AWS4-HMAC-SHA256 Credential=k/99999999/xx-nowhere-9/ivs/aws4_request, SignedHeaders=host, Signature={'f' * 64}",
    "AWS4-HMAC-SHA256 " + "Credential=" * 2_000, "\x00",
)  # fmt: skip
SIGNING_NAMES = _labelled("ivs", "chime", "kinesisvideo", "s3", "sqs", "sns", "sts", "dynamodb", "", "IVS")
DATES = _labelled(None, "", "yesterday")
QUERIES = _labelled(
    "a=%ZZ", "&&&=", "operation=", "operation=batch-create", "Action=Nope", "Action=ListQueues", "Action=",
    "X-Amz-Credential=a/b/c/sqs/e&X-Amz-Signature=x",
    "X-Amz-Credential=a/20260101/us-east-1/ivs/aws4_request&X-Amz-Signature=x", "x=" + "y" * 10_000, "%00=%00",
    "maxResults=-1&MaxResults=99999999999999999999",
)  # fmt: skip
CONTENT_LENGTHS = _labelled("abc", "-1", "0", "99999999", " 5")


def _with_raw_value(request: HttpRequest, raw: bytes) -> HttpRequest:
    """The first body member (or "name") set to raw JSON text no json.dumps would write."""
    try:
        document = json.loads(request.body) if request.body else {}
    except (ValueError, RecursionError):
        document = {}
    key = next(iter(document), "name") if isinstance(document, dict) else "name"
    return replace(request, body=b'{"' + key.encode("utf-8", "surrogatepass") + b'": ' + raw + b"}")


def _with_header(request: HttpRequest, name: str, value: str | None) -> HttpRequest:
    headers = {key: item for key, item in request.headers.items() if key.lower() != name.lower()}
    return replace(request, headers=headers if value is None else {**headers, name: value})


Mutation = Callable[[HttpRequest, Any], HttpRequest]
MUTATIONS: dict[str, tuple[dict[str, Any], Mutation]] = {
    "body": (MALFORMED_BODIES, lambda r, body: replace(r, body=body)),
    "raw value": (RAW_VALUES, _with_raw_value),
    "content type": (CONTENT_TYPES, lambda r, value: _with_header(r, "Content-Type", value)),
    "path": (PATHS, lambda r, path: replace(r, path=path)),
    "method": (METHODS, lambda r, method: replace(r, method=method)),
    "authorization": (AUTHORIZATIONS, lambda r, value: _with_header(r, "Authorization", value)),
    "signing name": (SIGNING_NAMES, lambda r, name: replace(r, headers={**r.headers, **authorization(name)})),
    "date": (DATES, lambda r, value: _with_header(r, "X-Amz-Date", value)),
    "query": (QUERIES, lambda r, query: replace(r, query=query)),
    "content length": (CONTENT_LENGTHS, lambda r, length: replace(r, content_length=length)),
}


# --- the tests --------------------------------------------------------------------------------------------------------


def fuzzing(examples: int) -> settings:
    """Deterministic, no example database, no shrinking: every failure is tallied instead (see Wire)."""
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


@pytest.fixture
def wire() -> Wire:
    """A sandbox of its own, quotas off (a fuzzer is faster than any quota), driven straight through WSGI."""
    return Wire(Sandbox(limits=RateLimits(enabled=False)))


def _operations(app: Sandbox) -> list[tuple[str, OperationModel]]:
    """Every operation of the simulated services; the implemented ones eight times as often."""
    chosen = []
    for service in app.services.values():
        for name in service.model.operation_names:
            weight = 8 if (service.name, name) in HANDLERS else 1
            chosen += [(service.signing_name, service.model.operation_model(name))] * weight
    return chosen


# Strategies are built once: hypothesis validates (and describes) each strategy object the first time it draws.
MUTATION_KINDS = st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=3, unique=True)
MUTATION_CHOICES = {kind: st.sampled_from(sorted(choices)) for kind, (choices, _) in MUTATIONS.items()}


def _malformed(request: HttpRequest, data: st.DataObject) -> HttpRequest:
    for kind in data.draw(MUTATION_KINDS):
        choices, apply = MUTATIONS[kind]
        request = apply(request, choices[data.draw(MUTATION_CHOICES[kind])])
    return request


def test_fuzzed_requests_never_answer_5xx(wire: Wire) -> None:
    """Each example: one request from the models (members fitting or mutated), then hand-made malformed variants."""
    targets = Targets(wire)
    targets.renew()
    values = st.sampled_from([ModelValues(targets, mutate=False), ModelValues(targets, mutate=True)])
    operations = st.sampled_from(_operations(wire.app))
    statuses: Counter[int] = Counter()

    @fuzzing(SERVICE_EXAMPLES)
    @given(data=st.data())
    def exchange(data: st.DataObject) -> None:
        if wire.sent >= RENEW_EVERY * targets.generation:
            targets.renew()
        signing_name, operation = data.draw(operations)
        params = data.draw(data.draw(values).params(operation))
        request = model_request(operation, signing_name, params)
        statuses[wire.send(request)[0]] += 1
        for _ in range(MALFORMED_PER_EXAMPLE):
            wire.send(_malformed(request, data))

    exchange()
    assert wire.sent >= 10_000
    assert not wire.failures, wire.report()
    assert statuses[200] + statuses[204] > SERVICE_EXAMPLES // 10, statuses  # past validation, into the handlers


# --- the control API --------------------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(),
        st.sampled_from([1e300, -1e300, 5e-324, -0.0, 0.5, 1, 10**9]),
        ODD_TEXT,
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
CONTROL_FIELDS = {
    "/_sandbox/clock": ("advance", "scale"),
    "/_sandbox/faults": ("operation", "latency_ms", "throttle", "error", "drop", "remaining"),
    "/_sandbox/quotas": ("enabled", "rates"),
    "/_sandbox/stages/join": ("token", "publish"),
    "/_sandbox/stages/leave": ("stageArn", "participantId"),
    "/_sandbox/stages/publish": ("stageArn", "participantId", "published"),
    "/_sandbox/meetings/join": ("joinToken",),
    "/_sandbox/meetings/leave": ("meetingId", "attendeeId"),
}
CONTROL_PATHS = _labelled(
    "/_sandbox", "/_sandbox/", "/_sandbox/clock/", "/_sandbox/%ZZ", "/_sandbox/faults/x", "/_sandbox/" + "a" * 5_000
)


def _meant(targets: Targets) -> dict[str, st.SearchStrategy[Any]]:
    """For each control field, values someone might mean, so that calls get past the types into the checks."""
    services = st.sampled_from(
        ["ivs-realtime", "kinesisvideo", "chime-sdk-meetings", "chime-sdk-media-pipelines", "s3"]
    )
    operations = st.sampled_from(["*", "ListStages", "CreateMeeting", "GetSignalingChannelEndpoint", "Nope", ""])
    rate = st.one_of(st.floats(0, 100), st.sampled_from([0, 0.5, 1, -1, 1e300]))
    probability = st.one_of(st.floats(0, 0.3), st.sampled_from([0, 0.5, 1, 1.5, -0.1]))
    meant = {
        "advance": st.one_of(st.floats(0, 1e6), st.sampled_from([86_400, 315_360_000, 1e11, 1e300, -1])),
        "scale": st.one_of(st.floats(0, 20_000), st.sampled_from([0, 1, 60, 10_000, 1e5, -1])),
        "operation": st.one_of(
            st.sampled_from(["*", "ivs-realtime:*", "ivs-realtime:ListStages", "chime-sdk-meetings:CreateMeeting"]),
            st.tuples(services, operations).map(":".join),
        ),
        "latency_ms": st.one_of(st.integers(-10, 200), st.sampled_from([120_000, 120_001, 10**12])),
        "throttle": probability,
        "error": probability,
        "drop": probability,
        "remaining": st.one_of(st.none(), st.integers(-2, 10)),
        "enabled": st.booleans(),
        "rates": st.dictionaries(services, st.dictionaries(operations, rate, max_size=2), max_size=2),
        "publish": st.booleans(),
        "published": st.booleans(),
    }
    for name in ("token", "joinToken", "stageArn", "participantId", "meetingId", "attendeeId"):
        pooled = targets.pooled(name)
        meant[name] = st.just(name) if pooled is None else pooled
    return meant


def _control_body(path: str, meant: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[bytes]:
    """Mostly a JSON object of the endpoint's fields (each mostly a meant value, else any JSON; now and then one
    missing, or one it does not know); else malformed JSON, or a field holding raw numbers no json.dumps writes."""
    fields = CONTROL_FIELDS.get(path, ("x",))
    values = {name: _mostly(meant.get(name, JSON_VALUES), JSON_VALUES) for name in fields}
    change = st.sampled_from([None] * 6 + list(fields) + ["+unknown"])
    objects = st.tuples(st.fixed_dictionaries(values), change).map(_drop_or_add)
    raw_field = f'{{"{fields[0]}": '.encode()
    malformed = st.sampled_from(sorted(MALFORMED_BODIES)).map(MALFORMED_BODIES.__getitem__)
    raw = st.sampled_from(sorted(RAW_VALUES)).map(lambda label: raw_field + RAW_VALUES[label] + b"}")
    return _mostly(objects.map(lambda body: json.dumps(body).encode()), malformed, raw)


def test_the_control_api_refuses_nonsense_and_keeps_working(wire: Wire) -> None:
    """Each example: one or two fuzzed control calls; then the sandbox must describe itself and serve as before."""
    targets = Targets(wire)
    targets.renew()
    meant = _meant(targets)
    routes = sorted(ROUTES)
    paths = {path for _, path in routes} | set(CONTROL_PATHS.values())
    bodies = {path: _control_body(path, meant) for path in paths}
    calls = st.integers(1, 2)
    endpoints = _mostly(
        st.sampled_from(routes),
        st.tuples(st.sampled_from(sorted(METHODS)), st.sampled_from(sorted(CONTROL_PATHS))).map(
            lambda pair: (METHODS[pair[0]], CONTROL_PATHS[pair[1]])
        ),
    )
    control_calls, reset = 0, False

    @fuzzing(CONTROL_EXAMPLES)
    @given(data=st.data())
    def exchange(data: st.DataObject) -> None:
        nonlocal control_calls, reset
        if reset or control_calls >= CONTROL_RENEW_EVERY * targets.generation:
            targets.renew()
        for _ in range(data.draw(calls)):
            method, path = data.draw(endpoints)
            wire.send(HttpRequest(method, path, body=data.draw(bodies[path])))
            control_calls += 1
            reset = path == "/_sandbox/reset"  # the identifiers the next calls aim at are gone
        for path in ("health", "state", "clock"):
            wire.send(HttpRequest("GET", f"/_sandbox/{path}"))
        for path, unusable in (("faults", _unusable_faults), ("quotas", _unusable_quotas)):
            request = HttpRequest("GET", f"/_sandbox/{path}")
            status, body = wire.send(request)
            for problem in unusable(json.loads(body)) if status == 200 else []:
                wire.record(f"kept, yet cannot be applied: {path} {problem}", request)
        wire.send(HttpRequest("DELETE", "/_sandbox/faults"))  # injected failures are what AWS answers; not these
        for signing_name, path, document in PROBES:
            headers = {**authorization(signing_name), "Content-Type": "application/json"}
            wire.send(HttpRequest("POST", path, headers=headers, body=json.dumps(document).encode()))

    exchange()
    assert control_calls >= 1_000
    assert not wire.failures, wire.report()


PROBABILITIES = ("throttle", "error", "drop")


def _number(value: Any, low: float, high: float = math.inf) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high


def _unusable_faults(faults: dict[str, dict[str, Any]]) -> list[str]:
    """The fields of the faults the sandbox holds that it could not apply to a request, or would apply as nonsense."""
    problems = []
    for fault in faults.values():
        latency, remaining = fault["latency_ms"], fault["remaining"]
        if not (isinstance(latency, int) and _number(latency, 0)):
            problems.append(f"latency_ms ({type(latency).__name__})")
        problems += [
            f"{name} ({type(fault[name]).__name__})" for name in PROBABILITIES if not _number(fault[name], 0, 1)
        ]
        if remaining is not None and not (isinstance(remaining, int) and remaining >= 0):
            problems.append(f"remaining ({type(remaining).__name__})")
    return problems


def _unusable_quotas(quotas: dict[str, Any]) -> list[str]:
    """The same for the quotas: `enabled` must be a boolean, every rate a number of requests per second."""
    enabled, rates = quotas["enabled"], quotas["rates"]
    problems = [] if isinstance(enabled, bool) else [f"enabled ({type(enabled).__name__})"]
    if not isinstance(rates, dict):
        return [*problems, f"rates ({type(rates).__name__})"]
    for service, values in rates.items():
        if not isinstance(values, dict) or not all(_number(rate, 0) for rate in values.values()):
            problems.append(f"rates of {service}")
    return problems


PROBES = (
    ("chime", "/meetings", {"ClientRequestToken": "probe", "MediaRegion": REGION, "ExternalMeetingId": "probe"}),
    ("ivs", "/CreateStage", {"name": "probe", "participantTokenConfigurations": [{"duration": 20160}]}),
    ("ivs", "/ListStages", {}),
    ("kinesisvideo", "/listSignalingChannels", {}),
)
