"""Amazon SQS, for the meeting events queue: long-poll receive, delete, delay, and the queue's ARN."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from django.conf import settings

from portal.aws.clients import aws_client

SERVICE = "sqs"
RECEIVE_MAX = 10  # ReceiveMessage returns at most 10 messages per call


def sqs_queue_arn(url: str) -> str:
    """arn:aws:sqs:<region>:<account>:<name> from a queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>);
    a URL whose host names no region (a local endpoint) is in the portal's region."""
    parsed = urlparse(url)
    account, _, name = parsed.path.strip("/").partition("/")
    host = parsed.hostname or ""
    region = host.split(".")[1] if host.startswith("sqs.") and host.count(".") >= 2 else settings.AWS_REGION
    return f"arn:aws:sqs:{region}:{account}:{name}"


async def queue_create(*, name: str) -> str:
    """Create the queue, or find it if it exists (CreateQueue is idempotent for equal attributes): its URL."""
    async with aws_client(SERVICE) as sqs:
        return (await sqs.create_queue(QueueName=name))["QueueUrl"]


async def messages_receive(*, url: str, wait_seconds: int) -> list[dict[str, Any]]:
    async with aws_client(SERVICE) as sqs:
        response = await sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=RECEIVE_MAX, WaitTimeSeconds=wait_seconds, AttributeNames=["All"]
        )
    return response.get("Messages", [])


async def messages_delete(*, url: str, receipts: list[str]) -> None:
    if not receipts:
        return
    async with aws_client(SERVICE) as sqs:
        await sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": receipt} for n, receipt in enumerate(receipts)]
        )


async def messages_delay(*, url: str, delays: list[tuple[str, int]]) -> None:
    """Each (receipt, seconds): the message comes back to the queue after that long (0: now), one call for all."""
    if not delays:
        return
    async with aws_client(SERVICE) as sqs:
        await sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": receipt, "VisibilityTimeout": seconds}
                for n, (receipt, seconds) in enumerate(delays)
            ],
        )
