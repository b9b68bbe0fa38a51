"""AWS's published API rate quotas (requests per second, per account and region), as data.

AWS sets these per API: each (service, operation) is one budget, shared by every process of the portal. An operation
a service does not name has the service's default, "*". Sources: ../shared/AWS-FACTS.md and the quota pages.
"""

from __future__ import annotations

RATES: dict[str, dict[str, float]] = {
    "ivs-realtime": {"*": 5, "CreateParticipantToken": 50, "TagResource": 10, "UntagResource": 10,
                     "ListTagsForResource": 10},
    "kinesisvideo": {"*": 50, "CreateSignalingChannel": 50, "DescribeSignalingChannel": 300,
                     "GetSignalingChannelEndpoint": 300, "ListSignalingChannels": 50, "UpdateSignalingChannel": 50,
                     "DeleteSignalingChannel": 50, "TagResource": 50, "UntagResource": 50, "ListTagsForResource": 50},
    # GetIceServerConfig: 5 per second per channel; the portal asks for one channel at a time, so 5 in all.
    "kinesis-video-signaling": {"*": 5},
    "chime-sdk-meetings": {"*": 10},
    "chime-sdk-media-pipelines": {"*": 10},
    "chime-sdk-voice": {"*": 10},
    # S3 scales per prefix: 3,500 PUT/COPY/POST/DELETE and 5,500 GET/HEAD (ListObjectsV2, GetObject) a second.
    "s3": {"*": 3500, "ListObjectsV2": 5500, "GetObject": 5500, "HeadObject": 5500},
}  # fmt: skip


def rate_for(service: str, operation: str) -> float | None:
    """Calls per second AWS allows for this API, or None for services the portal does not limit (SQS, STS)."""
    rates = RATES.get(service)
    if rates is None:
        return None
    return rates.get(operation, rates["*"])
