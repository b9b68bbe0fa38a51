"""The stage fault drill: every kind of stage operation through the services, under faults, judged from AWS's side.

Setup (no faults, no quotas): create the stages the drill works on, four "rooms" with five participant tokens each;
the participants join through the sandbox and the live refresh records them.
Chaos: quotas on, 20 % throttling and 5 % 5xx on every IVS call; request ~200 operations at once (creations, three
renames of a stage in a row, tag/tag/untag of a stage in a row, participant tokens, disconnects, deletions); SIGKILL
the worker child that is waiting on CreateParticipantToken (the only slow call, and never failed on purpose, so the
interrupted call always takes effect); SHUTDOWN NOSAVE the broker and start it again empty.
Settle: run the sweeper until nothing is queued or running. Judge: read the sandbox's state and the database.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse
from uuid import UUID

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q

from portal.core.models import AuditEntry, Operation
from portal.stages.models import Participant, ParticipantToken, Stage
from portal.stages.operations import MARKER
from portal.stages.refresh import stages_refresh
from portal.stages.services import (
    TokenSpec,
    stage_create,
    stage_delete,
    stage_disconnect_participant,
    stage_rename,
    stage_tag,
    stage_tokens_issue,
    stage_untag,
)
from rtc_sandbox.client import SandboxControl
from tests.integration.fault_harness import CeleryWorker, DrillConfig, KilledCall, RedisServer, operations_settle

ENDED = "every operation ended (succeeded or failed)"
ONCE = "each requested stage exists once in AWS, deleted ones are gone"
RENAMES = "renames of a stage applied in request order"
DISCONNECTS = "each disconnect happened once"
TAGS = "tags as requested"
TOKENS = "every participant token in AWS is recorded by the portal or marked with its operation"
ISSUED = "every participant token the portal recorded exists in AWS"
BIG = "a stage created with 49 tags exists once with at most 50 tags"
RECORDED = "each operation's outcome is recorded once"
CHECKS = (ENDED, ONCE, RENAMES, DISCONNECTS, TAGS, TOKENS, ISSUED, BIG, RECORDED)
MARKED = "a token whose outcome was lost, recognisable by its marker"  # counted as a duplicate, not a failure
CAPABILITIES = ["PUBLISH", "SUBSCRIBE"]


@dataclass
class Slot:
    """One stage the drill asks for, and everything it asks of it, in request order."""

    name: str
    tags: dict[str, str] = field(default_factory=dict)
    tokens: int = 0
    renames: list[str] = field(default_factory=list)
    tag_changes: list[dict[str, str] | list[str]] = field(default_factory=list)
    deleted: bool = False
    stage_id: int | None = None

    @property
    def names(self) -> set[str]:
        return {self.name, *self.renames}

    @property
    def final_name(self) -> str:
        return self.renames[-1] if self.renames else self.name

    def expected_tags(self) -> dict[str, str]:
        tags = dict(self.tags)
        for change in self.tag_changes:
            if isinstance(change, dict):
                tags.update(change)
            else:
                tags = {key: value for key, value in tags.items() if key not in change}
        return tags


@dataclass(frozen=True)
class Request:
    """One service call. `value`: the new name, the tags to add, the keys to remove, or the participant's pk."""

    kind: str
    slot: Slot
    value: Any = None


@dataclass(frozen=True)
class DrillSize:
    rooms: int = 4
    per_room: int = 5
    renamed: int = 12
    renames_each: int = 3
    tagged: int = 20
    deleted: int = 14
    created: int = 24
    tokens: int = 50

    @property
    def requests(self) -> int:
        setup = self.rooms + self.renamed + self.tagged + self.deleted
        chaos = self.created + self.renamed * self.renames_each + self.tagged * 3 + self.tokens
        return setup + chaos + self.rooms * self.per_room + self.deleted


@dataclass
class Finding:
    check: str
    text: str
    duplicates: int = 0
    lost: int = 0


@dataclass
class Verdict:
    findings: list[Finding]
    figures: dict[str, Any]

    def failures(self, check: str) -> list[str]:
        return [finding.text for finding in self.findings if finding.check == check]


class StageDrill:
    def __init__(
        self,
        *,
        prefix: str,
        actor: AbstractBaseUser,
        sandbox: SandboxControl,
        worker: CeleryWorker,
        redis: RedisServer,
        config: DrillConfig,
        size: DrillSize | None = None,
    ) -> None:
        self.prefix = prefix
        self.actor = actor
        self.sandbox = sandbox
        self.worker = worker
        self.redis = redis
        self.config = config
        self.size = size or DrillSize()
        self.first_operation = (Operation.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        self.requests: list[tuple[Request, int]] = []
        self.killed: KilledCall | None = None
        self.resent = 0
        self.timings: dict[str, float] = {}
        s = self.size
        self.rooms = [Slot(f"{prefix}-room-{n:02d}", tokens=s.per_room) for n in range(s.rooms)]
        self.renamed = [
            Slot(name, renames=[f"{name}-v{k}" for k in range(1, s.renames_each + 1)])
            for name in (f"{prefix}-renamed-{n:02d}" for n in range(s.renamed))
        ]
        self.tagged = [
            Slot(f"{prefix}-tagged-{n:02d}", tags={"team": f"t{n}"}, tag_changes=[{"a": "1"}, {"b": "2"}, ["a"]])
            for n in range(s.tagged)
        ]
        self.doomed = [Slot(f"{prefix}-doomed-{n:02d}", deleted=True) for n in range(s.deleted)]
        self.created = [Slot(f"{prefix}-new-{n:02d}") for n in range(s.created)]
        self.created[0].tags = {f"k{n:02d}": f"v{n}" for n in range(49)}
        self.slots = self.rooms + self.renamed + self.tagged + self.doomed + self.created

    # --- running --------------------------------------------------------------------------------------------------

    def run(self) -> Verdict:
        started = time.monotonic()
        self.setup()
        self.timings["setup"] = time.monotonic() - started
        chaos_started = time.monotonic()
        self.chaos()
        settled = operations_settle(timeout=self.config.settle_seconds)
        self.timings["chaos and settle"] = time.monotonic() - chaos_started
        self.timings["total"] = time.monotonic() - started
        self.resent = settled.resent
        return self.judge(unfinished_ids={operation.pk for operation in settled.unfinished})

    def _send(self, request: Request) -> None:
        slot = request.slot
        stage = Stage.objects.get(pk=slot.stage_id) if slot.stage_id is not None else None
        match request.kind:
            case "create":
                tokens = [TokenSpec(f"{slot.name}-p{n}", CAPABILITIES, 60, {}) for n in range(slot.tokens)]
                operation = stage_create(actor=self.actor, name=slot.name, tags=slot.tags, tokens=tokens)
                slot.stage_id = operation.parameters["stage_id"]
            case "rename":
                operation = stage_rename(actor=self.actor, stage=stage, name=request.value)
            case "tag":
                operation = stage_tag(actor=self.actor, stage=stage, tags=request.value)
            case "untag":
                operation = stage_untag(actor=self.actor, stage=stage, keys=request.value)
            case "issue_token":
                spec = TokenSpec(f"{slot.name}-t{request.value}", CAPABILITIES, 60, {})
                operation = stage_tokens_issue(actor=self.actor, stage=stage, tokens=[spec])
            case "disconnect":
                participant = Participant.objects.select_related("session__stage").get(pk=request.value)
                operation = stage_disconnect_participant(
                    actor=self.actor, participant=participant, reason=_reason(participant), revoke_token=True
                )
            case "delete":
                operation = stage_delete(actor=self.actor, stage=stage, reason="fault drill")
            case _:
                raise ValueError(request.kind)
        self.requests.append((request, operation.pk))

    def setup(self) -> None:
        """The stages the chaos works on, and the rooms' participants joined and recorded. No faults, no quotas."""
        self.sandbox.quotas(enabled=False)
        for slot in self.rooms + self.renamed + self.tagged + self.doomed:
            self._send(Request("create", slot))
        unfinished = operations_settle(timeout=60, sweep_every=None).unfinished  # nothing is lost before the chaos
        failed = Operation.objects.filter(pk__gte=self.first_operation, status=Operation.Status.FAILED)
        if unfinished or failed.exists():
            raise RuntimeError(f"The drill's setup did not complete: unfinished {unfinished}, failed {list(failed)}")
        tokens = self.sandbox.state()["state"].get("ivs.tokens", {})
        room_arns = set(
            Stage.objects.filter(pk__in=[slot.stage_id for slot in self.rooms]).values_list("arn", flat=True)
        )
        for token, record in tokens.items():
            if record["stageArn"] in room_arns:
                self.sandbox.stage_join(token)
        joined = Participant.objects.filter(session__stage__arn__in=room_arns, state=Participant.State.CONNECTED)
        for _cycle in range(60):  # each cycle serves a few stages in turn, the new ones first
            if joined.count() == self.size.rooms * self.size.per_room:
                break
            stages_refresh()
        if joined.count() != self.size.rooms * self.size.per_room:
            raise RuntimeError(f"{joined.count()} participants recorded, {self.size.rooms * self.size.per_room} joined")

    def chaos_requests(self) -> list[Request]:
        """Each stage's own requests stay together and in order (a quick double click); kinds take turns."""
        holders = self.rooms + self.renamed + self.tagged
        rooms = {slot.stage_id: slot for slot in self.rooms}
        participants = Participant.objects.filter(session__stage_id__in=rooms).select_related("session").order_by("pk")
        queues: list[list[list[Request]]] = [
            [[Request("create", slot)] for slot in self.created],
            [[Request("rename", slot, name) for name in slot.renames] for slot in self.renamed],
            [
                [Request("tag" if isinstance(change, dict) else "untag", slot, change) for change in slot.tag_changes]
                for slot in self.tagged
            ],
            [[Request("issue_token", holders[n % len(holders)], n)] for n in range(self.size.tokens)],
            [[Request("disconnect", rooms[p.session.stage_id], p.pk)] for p in participants],
            [[Request("delete", slot)] for slot in self.doomed],
        ]
        ordered: list[Request] = []
        while any(queues):
            for queue in queues:
                if queue:
                    ordered.extend(queue.pop(0))
        return ordered

    def chaos(self) -> None:
        self.sandbox.quotas(enabled=True)
        self.sandbox.inject_fault("ivs-realtime:*", throttle=self.config.throttle, error=self.config.error)
        self.sandbox.inject_fault("ivs-realtime:CreateParticipantToken", latency_ms=self.config.kill_latency_ms)
        for request in self.chaos_requests():
            self._send(request)

        def token_call_running(operation_id: int) -> bool:
            operation = Operation.objects.filter(pk=operation_id).values_list("kind", "status").first()
            return operation == ("stages.issue_token", Operation.Status.RUNNING)

        port = urlparse(self.sandbox.endpoint).port or 80
        self.killed = self.worker.kill_child_mid_call(port=port, wanted=token_call_running)
        self.sandbox.inject_fault(
            "ivs-realtime:CreateParticipantToken", throttle=self.config.throttle, error=self.config.error
        )
        self.redis.restart()

    # --- judging --------------------------------------------------------------------------------------------------

    def judge(self, *, unfinished_ids: set[int]) -> Verdict:
        world = self.sandbox.state()["state"]
        aws_stages: dict[str, dict[str, Any]] = world.get("ivs.stages", {})
        aws_tokens = list(world.get("ivs.tokens", {}).values())
        aws_participants = list(world.get("ivs.participants", {}).values())
        operations = Operation.objects.filter(pk__gte=self.first_operation)
        findings: list[Finding] = []
        findings += [
            Finding(
                ENDED, f"#{o.pk} {o.kind} still {o.status} after {o.attempts} attempt(s), last error {o.error_code!r}"
            )
            for o in operations.filter(pk__in=unfinished_ids).order_by("pk")
        ]
        arns = dict(Stage.objects.filter(pk__in=[s.stage_id for s in self.slots]).values_list("pk", "arn"))
        findings += self._judge_stages(aws_stages, arns)
        findings += self._judge_disconnects(aws_participants)
        findings += self._judge_tokens(aws_tokens)
        findings += self._judge_records(operations)
        succeeded = operations.filter(status=Operation.Status.SUCCEEDED).count()
        retries = Counter(
            detail.split(":", 1)[0]
            for detail in AuditEntry.objects.filter(
                operation__pk__gte=self.first_operation, event=AuditEntry.Event.RETRYING
            ).values_list("detail", flat=True)
        )
        figures = {
            "operations requested": len(self.requests),
            "operations in all": operations.count(),  # with the portal's own follow-ups (marker removals)
            "succeeded": succeeded,
            "failed": operations.filter(status=Operation.Status.FAILED).count(),
            "unfinished": len(unfinished_ids),
            "re-sent by the sweeper": self.resent,
            "ThrottlingException retries recorded": retries.get("ThrottlingException", 0),
            "other retries recorded": dict(sorted((k, v) for k, v in retries.items() if k != "ThrottlingException")),
            "duplicates found in the sandbox": sum(f.duplicates for f in findings),
            "of which tokens carrying the operation marker": sum(1 for f in findings if f.check == MARKED),
            "lost effects": sum(f.lost for f in findings),
            "killed mid-call": f"child {self.killed.pid}, operation #{self.killed.operation_id}" if self.killed else "",
            "seconds": {name: round(seconds, 1) for name, seconds in self.timings.items()},
        }
        return Verdict(findings, figures)

    def _judge_stages(self, aws_stages: dict[str, dict[str, Any]], arns: dict[int, str]) -> list[Finding]:
        by_name: dict[str, list[str]] = {}
        for arn, stage in aws_stages.items():
            by_name.setdefault(stage["name"], []).append(arn)
        findings: list[Finding] = []
        for slot in self.slots:
            arn = arns.get(slot.stage_id)
            copies = sorted({copy for name in slot.names for copy in by_name.get(name, [])})
            unknown = [copy for copy in copies if copy != arn]
            if unknown:
                findings.append(
                    Finding(
                        ONCE, f"{slot.name}: {len(unknown)} copy(ies) the portal does not know", duplicates=len(unknown)
                    )
                )
            if slot.deleted and arn in aws_stages:
                findings.append(Finding(ONCE, f"{slot.name}: still in AWS after its deletion was requested", lost=1))
            if slot.deleted or arn in aws_stages:
                continue
            findings.append(Finding(ONCE, f"{slot.name}: the stage the portal recorded ({arn}) is not in AWS", lost=1))
        for slot in [s for s in self.slots if not s.deleted and arns.get(s.stage_id) in aws_stages]:
            stage = aws_stages[arns[slot.stage_id]]
            if slot.renames and stage["name"] != slot.final_name:
                text = f"{slot.name}: named {stage['name']!r} in AWS; renames requested in order {slot.renames}"
                findings.append(Finding(RENAMES, text, lost=1))
            if stage["tags"] != slot.expected_tags():
                text = f"{slot.name}: tags {_tag_difference(stage['tags'], slot.expected_tags())}"
                findings.append(Finding(TAGS, text, lost=1))
        big = self.created[0]
        copies = [arn for arn, stage in aws_stages.items() if stage["name"] == big.name]
        if len(copies) != 1 or any(len(aws_stages[arn]["tags"]) > 50 for arn in copies):
            tag_counts = [len(aws_stages[arn]["tags"]) for arn in copies]
            findings.append(Finding(BIG, f"{big.name}: {len(copies)} copies in AWS with {tag_counts} tags"))
        return findings

    def _judge_disconnects(self, aws_participants: list[dict[str, Any]]) -> list[Finding]:
        findings: list[Finding] = []
        wanted = [request.value for request, _ in self.requests if request.kind == "disconnect"]
        for participant in Participant.objects.filter(pk__in=wanted).select_related("session__stage"):
            seen = next(
                (
                    p
                    for p in aws_participants
                    if p["participantId"] == participant.participant_id
                    and p["sessionId"] == participant.session.session_id
                ),
                None,
            )
            if seen is None:
                findings.append(Finding(DISCONNECTS, f"{participant.participant_id}: not in AWS at all", lost=1))
                continue
            left = sum(1 for event in seen["events"] if event["name"] == "LEFT")
            if seen["state"] != "DISCONNECTED" or left == 0:
                findings.append(Finding(DISCONNECTS, f"{participant.participant_id}: still {seen['state']}", lost=1))
            elif left > 1 or seen.get("disconnectReason") != _reason(participant):
                text = f"{participant.participant_id}: left {left} times, reason {seen.get('disconnectReason')!r}"
                findings.append(Finding(DISCONNECTS, text, duplicates=left - 1))
        return findings

    def _judge_tokens(self, aws_tokens: list[dict[str, Any]]) -> list[Finding]:
        findings: list[Finding] = []
        for token in aws_tokens:
            if ParticipantToken.objects.filter(participant_id=token["participantId"]).exists():
                continue
            described = f"{token['participantId']} ({token['userId']}) on {token['stageArn']}"
            if _names_an_operation(token["attributes"].get(MARKER, "")):
                findings.append(Finding(MARKED, f"{described}: not recorded, marked", duplicates=1))
            else:
                findings.append(Finding(TOKENS, f"{described}: not recorded, not marked", duplicates=1))
        in_aws = {token["participantId"] for token in aws_tokens}
        recorded = ParticipantToken.objects.filter(stage_id__in=[s.stage_id for s in self.slots])
        findings += [
            Finding(ISSUED, f"{participant_id} ({user_id}): recorded by the portal, not in AWS", lost=1)
            for participant_id, user_id in recorded.values_list("participant_id", "user_id")
            if participant_id not in in_aws
        ]
        return findings

    def _judge_records(self, operations: Any) -> list[Finding]:
        terminal = (AuditEntry.Event.SUCCEEDED, AuditEntry.Event.FAILED)
        counted = operations.annotate(outcomes=Count("audit_entries", filter=Q(audit_entries__event__in=terminal)))
        return [
            Finding(RECORDED, f"#{o.pk} {o.kind} ({o.status}): {o.outcomes} outcome entries in the audit log")
            for o in counted.order_by("pk")
            if o.outcomes != (1 if o.is_terminal else 0)
        ]


def _reason(participant: Participant) -> str:
    return f"fault drill {participant.participant_id}"


def _names_an_operation(marker: str) -> bool:
    """The token attribute `rtc-portal:operation` is "<operation idempotency token>/<attempt>"."""
    token, _, attempt = marker.partition("/")
    try:
        UUID(token)
    except ValueError:
        return False
    return attempt.isdigit() and Operation.objects.filter(idempotency_token=token).exists()


def _tag_difference(actual: dict[str, str], expected: dict[str, str]) -> str:
    extra = {k: v for k, v in actual.items() if expected.get(k) != v}
    missing = {k: v for k, v in expected.items() if actual.get(k) != v}
    return f"in AWS but not requested {extra}, requested but not in AWS {missing}"
