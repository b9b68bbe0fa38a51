"""The moto half of the sandbox: S3, SQS, SNS and STS, served by moto's own server application in this process.

The simulated services reach into the same moto backends to check sinks and to write what AWS would write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from moto.s3.exceptions import MissingBucket
from moto.s3.models import s3_backends
from moto.server import DomainDispatcherApplication, create_backend_app
from moto.sns.exceptions import SNSNotFoundError
from moto.sns.models import sns_backends
from moto.sqs.exceptions import QueueDoesNotExist
from moto.sqs.models import sqs_backends

MOTO_SERVICES = frozenset({"s3", "sqs", "sns", "sts"})

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def moto_application() -> WsgiApp:
    return DomainDispatcherApplication(create_backend_app)


def _arn_parts(arn: str) -> tuple[str, str, str]:
    """(region, account, name) of an SQS queue or SNS topic ARN."""
    parts = arn.split(":")
    if len(parts) != 6:
        raise ValueError(f"Not a queue or topic ARN: {arn}")
    return parts[3], parts[4], parts[5]


class MotoSide:
    def __init__(self, account: str) -> None:
        self.account = account

    def bucket_exists(self, bucket: str) -> bool:
        try:
            s3_backends[self.account]["global"].get_bucket(bucket)
        except MissingBucket:
            return False
        return True

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        s3_backends[self.account]["global"].put_object(bucket, key, body)

    def queue_exists(self, arn: str) -> bool:
        region, account, name = _arn_parts(arn)
        try:
            sqs_backends[account][region].get_queue(name)
        except QueueDoesNotExist:
            return False
        return True

    def send_message(self, arn: str, body: str) -> None:
        region, account, name = _arn_parts(arn)
        sqs_backends[account][region].send_message(name, body)

    def topic_exists(self, arn: str) -> bool:
        region, account, _ = _arn_parts(arn)
        try:
            sns_backends[account][region].get_topic(arn)
        except SNSNotFoundError:
            return False
        return True

    def publish(self, arn: str, message: str) -> None:
        region, account, _ = _arn_parts(arn)
        sns_backends[account][region].publish(message, arn=arn)
