"""Audit entries that are not AWS operations (logins, user administration) have kinds of their own. Each app config
declares the labels of its kinds, as it declares its sections:

    class UsersConfig(AppConfig):
        audit_kinds = {"users.login": "Log in", ...}
"""

from __future__ import annotations

from functools import cache

from django.apps import apps


@cache
def audit_kind_labels() -> dict[str, str]:
    return {
        kind: label for config in apps.get_app_configs() for kind, label in getattr(config, "audit_kinds", {}).items()
    }
