"""The buckets whose objects the portal reads back: the configured capture sink buckets (CAPTURE_SINK_BUCKETS) and
no other. A capture found in AWS names its sink itself, so its bucket may be any the credentials can read; every
path to a sink's objects asks `sink_refusal` first: the refresher before it lists a prefix or reads a meeting-events
file, the capture page before it shows what was listed or read, and `sink_download_urls`, the one place links are
signed (which the page's Content-Security-Policy takes its media origins from)."""

from __future__ import annotations

import logging

from django.conf import settings

from portal.aws import s3
from portal.aws.clients import aws_run
from portal.aws.errors import AwsError

logger = logging.getLogger(__name__)


def sink_refusal(bucket: str) -> str:
    """Why the portal does not list, read or link to objects in `bucket`; "" for a configured capture sink bucket."""
    if not settings.CAPTURE_SINK_BUCKETS:
        return (
            "No capture sink bucket is configured (CAPTURE_SINK_BUCKETS): the portal lists, reads and links to no "
            "capture's objects."
        )
    if not bucket:
        return "Its sink is not known yet."
    if bucket not in settings.CAPTURE_SINK_BUCKETS:
        return (
            f"Its sink s3://{bucket} is not a configured capture sink bucket (CAPTURE_SINK_BUCKETS): the portal "
            "does not list, read or link to its objects."
        )
    return ""


def sink_download_urls(bucket: str, keys: list[str]) -> dict[str, str]:
    """Short-lived presigned GET URLs for objects of a sink bucket (none for any other bucket), signed here by the
    one S3 client: no request goes to AWS, but signing needs the credentials. Without them: no links."""
    if not keys or sink_refusal(bucket):
        return {}
    try:
        return aws_run(
            s3.download_urls(bucket=bucket, keys=keys, expires_seconds=settings.CAPTURE_DOWNLOAD_URL_SECONDS)
        )
    except AwsError as error:
        logger.warning("Download links for %s not signed: %s", bucket, error)
        return {}
