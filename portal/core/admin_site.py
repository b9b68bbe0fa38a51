"""Django's admin site is for superusers only: it can grant superuser status and raw permissions, which no portal
role may. Admins manage users on the portal's own Users page (portal.users)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest


class SuperuserAdminSite(admin.AdminSite):
    site_header = "RTC Portal: superuser administration"

    def has_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser


class SuperuserAdminConfig(AdminConfig):
    default_site = "portal.core.admin_site.SuperuserAdminSite"
