"""The one place that makes AWS clients.

Clients belong to the event loop that opened them: open one with `async with aws_client(...)` inside the coroutine
that uses it, never keep one across loops. Endpoints, credentials and retry settings come from the standard AWS
chain (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>, AWS_ACCESS_KEY_ID, AWS_PROFILE, AWS_MAX_ATTEMPTS, ...).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aioboto3
from aiobotocore.config import AioConfig
from django.conf import settings

from portal.aws.errors import aws_error_from


def aws_endpoint_configured() -> bool:
    """True when AWS_ENDPOINT_URL (or a per-service override) or real credentials are present."""
    if any(key.startswith("AWS_ENDPOINT_URL") for key in os.environ):
        return True
    return bool(os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"))


@asynccontextmanager
async def aws_client(service: str) -> AsyncIterator[Any]:
    """An aioboto3 client for `service`; botocore errors leave it as `portal.aws.errors.AwsError`."""
    config = AioConfig(
        connect_timeout=settings.AWS_CONNECT_TIMEOUT,
        read_timeout=settings.AWS_READ_TIMEOUT,
        user_agent_appid="rtc-portal",
    )
    session = aioboto3.Session()
    try:
        async with session.client(service, region_name=settings.AWS_REGION, config=config) as client:
            yield client
    except Exception as exc:  # every botocore failure becomes one of ours
        raise aws_error_from(exc) from exc
