from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from portal.core.models import AuditEntry
from portal.core.permissions import MANAGE_USERS
from portal.core.roles import Role
from portal.core.secrets import SecretsOffer, secrets_take, secrets_waiting
from portal.users import selectors, services
from portal.users.forms import ROLE_CHOICES, RoleForm, UnlockForm, UserCreateForm, UsernameConfirmForm


def _see_other(url_name: str, *args: int) -> HttpResponseRedirect:
    """The answer to every change here (post/redirect/get): a reload shows the page again and changes nothing."""
    return HttpResponseRedirect(reverse(url_name, args=args), status=303)


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


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_USERS, raise_exception=True)
def user_create(request: HttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _, entry = services.user_create(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            role=Role(form.cleaned_data["role"]),
            actor=request.user,
        )
        return _see_other("user_password_issued", entry.pk)
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
    return _see_other("users")


def _confirmed(request: HttpRequest, user: AbstractBaseUser, *, action: str) -> UsernameConfirmForm | None:
    """The confirmation a destructive change asks first: None once their username was typed; else the form to show
    (with its error after a POST)."""
    services.user_require_changeable(user=user, actor=request.user)
    form = UsernameConfirmForm(request.POST if request.method == "POST" else None, user=user, action=action)
    return None if request.method == "POST" and form.is_valid() else form


def _confirm_page(
    request: HttpRequest, user: AbstractBaseUser, form: UsernameConfirmForm, **context: str
) -> TemplateResponse:
    status = 400 if form.is_bound else 200
    return TemplateResponse(request, "users/confirm.html", {"subject": user, "form": form, **context}, status=status)


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_USERS, raise_exception=True)
def user_deactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    user = get_object_or_404(get_user_model(), pk=user_id)
    form = _confirmed(request, user, action="deactivate them")
    if form is not None:
        return _confirm_page(
            request, user, form, title=f"Deactivate {user.get_username()}", button="Deactivate user",
            explanation="They can no longer log in, and every session they have ends at its next request. "
            "Reactivating them later gives them back the same account and password.",
        )  # fmt: skip
    services.user_set_active(user=user, active=False, actor=request.user)
    messages.success(request, f"{user.get_username()} is deactivated.")
    return _see_other("users")


@require_POST
@permission_required(MANAGE_USERS, raise_exception=True)
def user_reactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    user = get_object_or_404(get_user_model(), pk=user_id)
    services.user_set_active(user=user, active=True, actor=request.user)
    messages.success(request, f"{user.get_username()} is active again.")
    return _see_other("users")


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE_USERS, raise_exception=True)
def user_password(request: HttpRequest, user_id: int) -> HttpResponse:
    """Reset a password after typing the username; the new password is shown once on the page the answer leads to."""
    user = get_object_or_404(get_user_model(), pk=user_id)
    form = _confirmed(request, user, action="reset their password")
    if form is not None:
        return _confirm_page(
            request, user, form, title=f"Reset the password of {user.get_username()}", button="Reset password",
            explanation="The portal generates a new password and shows it to you once. Their current password stops "
            "working, every session they have ends, and the one-time secrets still waiting for them are discarded.",
        )  # fmt: skip
    entry = services.user_reset_password(user=user, actor=request.user)
    return _see_other("user_password_issued", entry.pk)


def _password_context(request: HttpRequest, entry: AuditEntry) -> dict[str, object]:
    owner = get_user_model().objects.filter(username=entry.actor_name).values_list("pk", flat=True).first()
    offer = SecretsOffer(
        url=reverse("user_password_reveal", args=[entry.pk]),
        target=f"password-{entry.pk}-result",
        owner_id=owner,
        owner_name=entry.actor_name,
        waiting=secrets_waiting(entry=entry, user=request.user),
    )
    return {"entry": entry, "username": entry.target, "new": entry.kind == "users.create", "offer": offer}


@never_cache
@require_GET
@permission_required(MANAGE_USERS, raise_exception=True)
def user_password_issued(request: HttpRequest, entry_id: int) -> TemplateResponse:
    """The page a creation or a reset leads to: its password offered once to whoever made it."""
    entry = get_object_or_404(AuditEntry, pk=entry_id, kind__in=services.PASSWORD_KINDS)
    return TemplateResponse(request, "users/password.html", _password_context(request, entry))


@never_cache
@require_POST
@vary_on_headers("HX-Request")
@permission_required(MANAGE_USERS, raise_exception=True)
def user_password_reveal(request: HttpRequest, entry_id: int) -> TemplateResponse:
    """The password, once, to the person who made it; then never again."""
    entry = get_object_or_404(AuditEntry, pk=entry_id, kind__in=services.PASSWORD_KINDS)
    context = _password_context(request, entry) | {"secrets": secrets_take(entry=entry, user=request.user)}
    template = "users/password.html#password-result" if request.htmx else "users/password.html"
    return TemplateResponse(request, template, context | {"revealed": True})


@require_POST
@permission_required(MANAGE_USERS, raise_exception=True)
def login_unlock(request: HttpRequest) -> HttpResponse:
    form = UnlockForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    username, ip_address = form.cleaned_data["username"], form.cleaned_data["ip_address"]
    services.login_unlock(actor=request.user, username=username, ip_address=ip_address)
    messages.success(request, f"{username or ip_address} may log in again.")
    return _see_other("users")
