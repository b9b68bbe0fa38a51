from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.core.permissions import MANAGE_USERS
from portal.core.roles import Role
from portal.users import selectors, services
from portal.users.forms import ROLE_CHOICES, ActiveForm, RoleForm, UnlockForm, UserCreateForm


@require_GET
@permission_required(MANAGE_USERS, raise_exception=True)
def users(request: HttpRequest) -> TemplateResponse:
    lockouts = selectors.login_lockouts()
    context = {
        "users": selectors.users_list(),
        "lockouts": lockouts,
        "locked_usernames": {lockout.username for lockout in lockouts if lockout.username},
        "roles": ROLE_CHOICES,
    }
    return TemplateResponse(request, "users/list.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_USERS, raise_exception=True)
def user_create(request: HttpRequest) -> TemplateResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user, password = services.user_create(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            role=Role(form.cleaned_data["role"]),
            actor=request.user,
        )
        return TemplateResponse(request, "users/password.html", {"subject": user, "password": password, "new": True})
    return TemplateResponse(request, "users/create.html", {"form": form}, status=400 if form.is_bound else 200)


@require_POST
@permission_required(MANAGE_USERS, raise_exception=True)
def user_role(request: HttpRequest, user_id: int) -> HttpResponse:
    user = get_object_or_404(get_user_model(), pk=user_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    services.user_set_role(user=user, role=Role(form.cleaned_data["role"]), actor=request.user)
    messages.success(request, f"{user.get_username()} is now {form.cleaned_data['role']}.")
    return redirect("users")


@require_POST
@permission_required(MANAGE_USERS, raise_exception=True)
def user_active(request: HttpRequest, user_id: int) -> HttpResponse:
    user = get_object_or_404(get_user_model(), pk=user_id)
    form = ActiveForm(request.POST)
    form.is_valid()  # a boolean: absent is False
    active = form.cleaned_data["active"]
    services.user_set_active(user=user, active=active, actor=request.user)
    messages.success(request, f"{user.get_username()} is {'active again' if active else 'deactivated'}.")
    return redirect("users")


@never_cache
@require_POST
@permission_required(MANAGE_USERS, raise_exception=True)
def user_password(request: HttpRequest, user_id: int) -> TemplateResponse:
    """The new password is in this answer only: never stored in the clear, never cached."""
    user = get_object_or_404(get_user_model(), pk=user_id)
    password = services.user_reset_password(user=user, actor=request.user)
    return TemplateResponse(request, "users/password.html", {"subject": user, "password": password, "new": False})


@require_POST
@permission_required(MANAGE_USERS, raise_exception=True)
def login_unlock(request: HttpRequest) -> HttpResponse:
    form = UnlockForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    username, ip_address = form.cleaned_data["username"], form.cleaned_data["ip_address"]
    services.login_unlock(actor=request.user, username=username, ip_address=ip_address)
    messages.success(request, f"{username or ip_address} may log in again.")
    return redirect("users")
