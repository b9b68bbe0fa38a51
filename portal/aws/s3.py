"""Amazon S3, for what capture pipelines write: list a prefix, read small text objects, presign downloads."""

from __future__ import annotations

from typing import Any

from portal.aws.clients import aws_client

SERVICE = "s3"


async def objects_list(client: Any, *, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """Every object under `prefix` (Key, Size, LastModified): ListObjectsV2, every page."""
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    while True:
        page = await client.list_objects_v2(**kwargs)
        found.extend(page.get("Contents", []))
        if not page.get("IsTruncated"):
            return found
        kwargs["ContinuationToken"] = page["NextContinuationToken"]


async def object_text(client: Any, *, bucket: str, key: str, limit: int) -> str:
    """The first `limit` bytes of a text object, decoded."""
    response = await client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{limit - 1}")
    async with response["Body"] as body:
        return (await body.read()).decode("utf-8", "replace")


async def buckets_list() -> list[str]:
    async with aws_client(SERVICE) as s3:
        return sorted(bucket["Name"] for bucket in (await s3.list_buckets()).get("Buckets", []))


async def download_urls(*, bucket: str, keys: list[str], expires_seconds: int) -> dict[str, str]:
    """Presigned GET URLs (SigV4, computed locally: no request is made) for each key."""
    async with aws_client(SERVICE) as s3:
        return {
            key: await s3.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_seconds
            )
            for key in keys
        }
