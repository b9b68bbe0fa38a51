"""The AWS connection check: the simplest operation, proving credentials, endpoint and worker end to end."""

from __future__ import annotations

from typing import Any

from portal.aws import sts
from portal.core.operation_kinds import OperationCall, OperationKind, register


async def _check(call: OperationCall) -> dict[str, Any]:
    return await sts.caller_identity()


CHECK_CONNECTION = register(
    OperationKind(
        name="aws.check_connection",
        label="Check AWS connection",
        permission="core.manage_resources",
        call=_check,
        summary=lambda result: f"account {result.get('Account', '?')} as {result.get('Arn', '?')}",
    )
)
