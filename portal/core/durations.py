"""The one way the portal writes a duration in words: "45 seconds", "10 minutes", "9 hours and 59 minutes",
"3 days and 2 hours". At most two units, the smaller one rounded, so a token valid for 600 minutes reads "10 hours"
a second after it was issued (Django's naturaltime truncates it to "9 hours"). Every page, summary and message that
says how long something lasts or how long ago it was uses `duration_in_words` or the `duration` and `ago` filters of
`portal.core.templatetags.display`."""

from __future__ import annotations

from datetime import timedelta

from django.utils.translation import ngettext

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def _unit(count: int, unit: str) -> str:
    words = {
        "day": ngettext("%(count)d day", "%(count)d days", count),
        "hour": ngettext("%(count)d hour", "%(count)d hours", count),
        "minute": ngettext("%(count)d minute", "%(count)d minutes", count),
        "second": ngettext("%(count)d second", "%(count)d seconds", count),
    }[unit]
    return words % {"count": count}


def duration_in_words(value: timedelta | float) -> str:
    """A duration (a timedelta, or a number of seconds) in words; its sign is ignored. Under a minute in seconds,
    under an hour in minutes, under a day in hours and minutes, beyond in days and hours: each rounded to the
    nearest of its smallest unit, which may carry it into the next (59.6 s is "1 minute")."""
    seconds = abs(value.total_seconds() if isinstance(value, timedelta) else float(value))
    step = 1 if seconds < MINUTE - 0.5 else MINUTE if seconds < DAY - MINUTE / 2 else HOUR
    total = round(seconds / step) * step
    days, rest = divmod(total, DAY)
    hours, rest = divmod(rest, HOUR)
    minutes, secs = divmod(rest, MINUTE)
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute"), (secs, "second")]
    shown = [_unit(int(count), unit) for count, unit in parts if count]
    return " and ".join(shown) if shown else _unit(0, "second")


def minutes_in_words(minutes: int) -> str:
    """`duration_in_words` of a number of minutes, as policies and tokens store them."""
    return duration_in_words(timedelta(minutes=minutes))
