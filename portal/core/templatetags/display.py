"""How the portal shows values: times in UTC that never wrap, how long ago, long identifiers shortened with the full
value on hover and a copy button, and stored parameters as readable facts instead of Python's notation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from portal.core.durations import duration_in_words
from portal.core.protection import PROTECTION_TAG

register = template.Library()

FORMATS = {"second": "%Y-%m-%d %H:%M:%S", "minute": "%Y-%m-%d %H:%M", "time": "%H:%M:%S"}
JUST_NOW = timedelta(minutes=1)


def _moment(value: datetime | str | None) -> datetime | None:
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is None:
        return None
    return value.astimezone(UTC) if timezone.is_aware(value) else value.replace(tzinfo=UTC)


@register.filter
def utc(value: datetime | str | None, precision: str = "second") -> SafeString | str:
    """`{{ stage.created_at|utc }}` → 2026-11-30 08:47:20 UTC; `|utc:"minute"` or `|utc:"time"` for less."""
    moment = _moment(value)
    if moment is None:
        return "—"
    return format_html(
        '<time class="nowrap" datetime="{}">{} UTC</time>', moment.isoformat(), moment.strftime(FORMATS[precision])
    )


@register.filter
def ago(value: datetime | str | None) -> SafeString | str:
    """`{{ operation.created_at|ago }}` → "just now", "3 minutes ago", "in 10 hours", with the UTC time on hover."""
    moment = _moment(value)
    if moment is None:
        return "—"
    delta = moment - timezone.now()
    if abs(delta) < JUST_NOW:
        words = "just now"
    else:
        words = f"in {duration_in_words(delta)}" if delta > timedelta(0) else f"{duration_in_words(delta)} ago"
    return format_html(
        '<time class="nowrap" datetime="{}" title="{} UTC">{}</time>',
        moment.isoformat(),
        moment.strftime(FORMATS["second"]),
        words,
    )


@register.filter
def duration(value: timedelta | float | None, unit: str = "seconds") -> str:
    """A duration in words: `{{ run.elapsed|duration }}` (a timedelta or seconds), `{{ capture.max_duration_minutes|
    duration:"minutes" }}` → "1 hour and 30 minutes"."""
    if value is None or value == "":
        return "—"
    return duration_in_words(value if isinstance(value, timedelta) else timedelta(**{unit: float(value)}))


@register.filter
def minus(value: int, other: int) -> int:
    """`{{ tags|length|minus:3 }}`: how many are left beyond the first three."""
    return int(value) - int(other)


@register.simple_tag
def identifier(value: str | None, keep: int = 28) -> SafeString | str:
    """A long identifier (an ARN, a target) shortened in the middle to about `keep` characters, the whole of it on
    hover and on the copy button: `{% identifier stage.arn %}`."""
    if not value:
        return "—"
    head = keep // 3
    shown = value if len(value) <= keep else f"{value[:head]}…{value[-(keep - head - 1) :]}"
    return format_html(
        '<span class="identifier mono" title="{}"><span class="identifier-text">{}</span>'
        '<button type="button" class="copy" data-copy-text="{}" aria-label="Copy {}" title="Copy">Copy</button></span>',
        value, shown, value, value,
    )  # fmt: skip


def _label(key: str) -> str:
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in key).replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _lines(value: Any) -> list[str]:
    if value in (None, "", [], {}):
        return ["—"]
    if isinstance(value, bool):
        return ["yes" if value else "no"]
    if isinstance(value, dict):
        return [" · ".join(f"{key}: {_inline(item)}" for key, item in value.items())]
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        return [line for item in value for line in _lines(item)]
    return [_inline(value)]


def _inline(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(not isinstance(item, (dict, list)) for item in value):
        return ", ".join(str(item) for item in value) or "—"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return "—" if value in (None, "") else str(value)


@register.filter
def facts(data: dict[str, Any] | None) -> list[tuple[str, list[str]]]:
    """Stored parameters or results as (label, lines): `{% for label, lines in operation.parameters|facts %}`."""
    return [(_label(str(key)), _lines(value)) for key, value in (data or {}).items()]


@register.filter
def in_words(value: Any) -> str:
    """A stored value (text, a number, tags, a list) on one line: `{{ record.aws_value|in_words }}`."""
    return " · ".join(_lines(value))


@register.simple_tag
def status_badge(status: str, label: str = "") -> SafeString:
    """`{% status_badge operation.status operation.get_status_display %}`: the one status badge. A tag, not an include:
    tables render it once per row, and an include costs about ten times as much."""
    return format_html('<span class="status status-{}">{}</span>', str(status).lower(), label or status)


@register.filter
def protected(tags: dict[str, str] | None) -> bool:
    """The resource carries the protection tag: no cleanup policy touches it."""
    return bool(tags) and PROTECTION_TAG in tags


PROTECTED_BADGE = '<span class="badge tag protected" title="Protected: no cleanup policy touches it">{}={}</span>'


@register.simple_tag
def tag_list(tags: dict[str, str] | None, limit: int = 0) -> SafeString | str:
    """`{% tag_list stage.tags 3 %}`: tags as badges, the first `limit` shown and how many more, all on hover. The
    protection tag comes first, marked protected."""
    if not tags:
        return "—"
    items = sorted(tags.items(), key=lambda tag: tag[0] != PROTECTION_TAG)  # protection first: it is never hidden
    shown = items[:limit] if limit else items
    protected = format_html(PROTECTED_BADGE, *shown[0]) if shown and shown[0][0] == PROTECTION_TAG else ""
    others = format_html_join(" ", '<span class="badge tag">{}={}</span>', shown[1 if protected else 0 :])
    badges = format_html("{}{}{}", protected, " " if protected and others else "", others)
    hidden = len(items) - len(shown)
    more = format_html(' <span class="muted">+{} more</span>', hidden) if hidden else ""
    title = "\n".join(f"{key}={value}" for key, value in items)
    return format_html('<span class="tag-list" title="{}">{}{}</span>', title, badges, more)
