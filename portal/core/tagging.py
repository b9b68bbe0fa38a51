"""Tag and untag operation kinds. A resource whose AWS service tags by ARN declares both in one call:

    STAGE_TAG, STAGE_UNTAG = tag_kinds_register(
        area="stages", noun="stage", model=Stage, id_parameter="stage_id",
        tags_add=ivs.tags_add, tags_remove=ivs.tags_remove, on_failure=..., explain_failure=...,
    )

The kinds are `<area>.tag` (parameters: the row's id, `arn`, `tags`) and `<area>.untag` (the row's id, `arn`, `keys`).
On success the row's `tags` take the change and its `changed_at` is now.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from django.db.models import Model
from django.utils import timezone
from django.utils.translation import ngettext

from portal.core.operation_kinds import OperationCall, OperationKind, OperationSubject, register
from portal.core.permissions import MANAGE_RESOURCES

if TYPE_CHECKING:
    from portal.aws.errors import AwsError
    from portal.core.errors import DomainError
    from portal.core.models import Operation


def tag_words(tags: dict[str, str]) -> str:
    """Tags in words, as operations and the audit log say them: `team=red, cost=42`."""
    return ", ".join(f"{key}={value}" for key, value in tags.items())


def _untag_words(parameters: dict[str, Any], name: str) -> str:
    keys = parameters.get("keys", [])
    return f"Remove {ngettext('tag', 'tags', len(keys))} {', '.join(keys)} from {name}"


def tag_kinds_register(
    *,
    area: str,
    noun: str,
    model: type[Model],
    id_parameter: str,
    tags_add: Callable[..., Awaitable[None]],
    tags_remove: Callable[..., Awaitable[None]],
    on_failure: Callable[[Operation, AwsError], None] | None = None,
    explain_failure: Callable[[Operation], DomainError | None] | None = None,
    subject: Callable[[Operation], OperationSubject],
    result_template: str = "",
    permission: str = MANAGE_RESOURCES,
) -> tuple[OperationKind, OperationKind]:
    """Register `<area>.tag` and `<area>.untag`: `tags_add(arn=, tags=)` and `tags_remove(arn=, keys=)` are the AWS
    calls; `model` is the row, found by the operation's `id_parameter`, whose `tags` follow."""

    async def tag(call: OperationCall) -> dict[str, Any]:
        await tags_add(arn=call.parameters["arn"], tags=call.parameters["tags"])
        return {"tags": call.parameters["tags"]}

    async def untag(call: OperationCall) -> dict[str, Any]:
        await tags_remove(arn=call.parameters["arn"], keys=call.parameters["keys"])
        return {"keys": call.parameters["keys"]}

    def tags_change(operation: Operation, change: Callable[[dict[str, str]], dict[str, str]]) -> None:
        row = model._default_manager.select_for_update().get(pk=operation.parameters[id_parameter])
        row.tags = change(row.tags)
        row.changed_at = timezone.now()
        row.save(update_fields=["tags", "changed_at"])

    def tagged(operation: Operation, effect_data: dict[str, Any]) -> None:
        tags_change(operation, lambda tags: {**tags, **operation.parameters["tags"]})

    def untagged(operation: Operation, effect_data: dict[str, Any]) -> None:
        keys = operation.parameters["keys"]
        tags_change(operation, lambda tags: {key: value for key, value in tags.items() if key not in keys})

    shared: dict[str, Any] = {
        "permission": permission,
        "on_failure": on_failure,
        "explain_failure": explain_failure,
        "result_template": result_template,
        "subject": subject,
    }
    return (
        register(
            OperationKind(
                name=f"{area}.tag",
                label=f"Tag {noun}",
                call=tag,
                on_success=tagged,
                summary=lambda result: "tagged " + tag_words(result.get("tags", {})),
                describe=lambda p, name: f"Tag {name}: {tag_words(p.get('tags', {}))}",
                **shared,
            )
        ),
        register(
            OperationKind(
                name=f"{area}.untag",
                label=f"Untag {noun}",
                call=untag,
                on_success=untagged,
                summary=lambda result: "removed the tag " + ", ".join(result.get("keys", [])),
                describe=_untag_words,
                **shared,
            )
        ),
    )
