"""What the Users page shows: every user with their role, and the logins locked out now (django-axes' records)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Max, QuerySet, Sum
from django.utils import timezone


@dataclass(frozen=True)
class Lockout:
    """A username or an address with too many failed logins: refused until `until` (None: until unlocked)."""

    username: str
    ip_address: str
    failures: int
    last_failure: datetime
    until: datetime | None


def users_list() -> QuerySet[AbstractBaseUser]:
    return get_user_model().objects.prefetch_related("groups").order_by("username")


def login_lockouts() -> list[Lockout]:
    """Locked-out usernames first, then addresses, each with its failures inside the cool-off window."""
    cool_off = get_cool_off()
    attempts = AccessAttempt.objects.all()
    if cool_off is not None:
        attempts = attempts.filter(attempt_time__gte=timezone.now() - cool_off)
    lockouts = []
    for field in ("username", "ip_address"):
        locked = (
            attempts.exclude(**{f"{field}__isnull": True})
            .values(field)
            .annotate(failures=Sum("failures_since_start"), last_failure=Max("attempt_time"))
            .filter(failures__gte=settings.AXES_FAILURE_LIMIT)
            .order_by(field)
        )
        for row in locked:
            lockouts.append(
                Lockout(
                    username=row[field] if field == "username" else "",
                    ip_address=row[field] if field == "ip_address" else "",
                    failures=row["failures"],
                    last_failure=row["last_failure"],
                    until=row["last_failure"] + cool_off if cool_off is not None else None,
                )
            )
    return lockouts
