from __future__ import annotations

from typing import Any

from portal.aws.clients import aws_client


async def caller_identity() -> dict[str, Any]:
    async with aws_client("sts") as sts:
        response = await sts.get_caller_identity()
    return {"Account": response["Account"], "Arn": response["Arn"], "UserId": response["UserId"]}
