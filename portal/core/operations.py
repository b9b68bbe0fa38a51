"""Core's own operation kind: the AWS connection check, the simplest operation, proving credentials, endpoint and
worker end to end. Every app's `operations` module is imported at start (CoreConfig.ready)."""

from __future__ import annotations

from typing import Any

from portal.aws import sts
from portal.core.operation_kinds import OperationCall, OperationKind, page_subject, register
from portal.core.permissions import MANAGE_RESOURCES


async def _check(call: OperationCall) -> dict[str, Any]:
    return await sts.caller_identity()


CHECK_CONNECTION = register(
    OperationKind(
        name="aws.check_connection",
        subject=lambda operation: page_subject("AWS connection", "operations"),
        label="Check AWS connection",
        permission=MANAGE_RESOURCES,
        call=_check,
        summary=lambda result: f"account {result.get('Account', '?')} as {result.get('Arn', '?')}",
    )
)
