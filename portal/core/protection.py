"""The protection tag: no cleanup policy ever touches a resource carrying it (whatever its value). Every tag list
shows it as protected.

A plan (a preview, and the run that follows it) reads the tags the portal holds: its own, and those it last saw in
AWS where they differ (an open drift record). The decisive check is AWS's tags at the time of acting: an operation
a cleanup run requests carries KEEP_IF_PROTECTED, and its call reads the resource's tags (ListTagsForResource,
through the client factory and the shared rate limiter) just before the call that would act. When AWS holds the tag,
the call does nothing and answers PROTECTED with the tags it read: the operation succeeds as "skipped", core audits it
(kind `protection.kept`) and settles no drift, and the kind's local effect records the tags seen and undoes what the
request marked. A tag that cannot be read is AWS's error: the call fails (retried as the error says), never acts.
An operation a person asks for carries no KEEP_IF_PROTECTED: as with the portal's own tags, the tag does not refuse a
deletion by hand.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portal.core.models import Operation
    from portal.core.operation_kinds import OperationCall

PROTECTION_TAG = "rtc-portal:keep"
KEEP_IF_PROTECTED = "keep_if_protected"  # an operation's parameter: read AWS's tags first, and keep a protected one
PROTECTED = "protected_in_aws"  # an operation's result: the tags AWS held, protecting the resource; nothing was done


def protection_parameters(keep_if_protected: bool) -> dict[str, bool]:
    """What an operation's parameters carry when a cleanup run requests it (none for a person's request)."""
    return {KEEP_IF_PROTECTED: True} if keep_if_protected else {}


async def protection_in_aws(
    call: OperationCall, tags_of: Callable[[], Awaitable[dict[str, str]]]
) -> dict[str, Any] | None:
    """For an operation that keeps a protected resource: the result saying AWS holds the protection tag (read now,
    with `tags_of`), or None when the call may act. Whatever reading the tags raises is the call's error."""
    if not call.parameters.get(KEEP_IF_PROTECTED):
        return None
    tags = await tags_of()
    return {PROTECTED: tags} if PROTECTION_TAG in tags else None


def protected_tags(operation: Operation) -> dict[str, str] | None:
    """The tags AWS held when the operation kept its resource as protected; None when it acted."""
    if operation.status != operation.Status.SUCCEEDED:
        return None
    tags = operation.result.get(PROTECTED)
    return dict(tags) if isinstance(tags, dict) else None


def protected_words(tags: dict[str, str]) -> str:
    """What an operation that kept its resource did, in words: the operation's summary and its audit entry's."""
    return f"skipped: protected in AWS: tagged {PROTECTION_TAG}={tags.get(PROTECTION_TAG, '')} when it ran, not adopted"
