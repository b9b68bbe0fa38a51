from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from portal.core.roles import Role

ROLE_CHOICES = [(role.value, role.value) for role in Role]


class UserCreateForm(forms.ModelForm):
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=Role.VIEWER.value)

    class Meta:
        model = get_user_model()
        fields = ["username", "email"]


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class UnlockForm(forms.Form):
    username = forms.CharField(max_length=255, required=False)
    ip_address = forms.GenericIPAddressField(required=False)

    def clean(self) -> dict[str, str]:
        cleaned = super().clean() or {}
        if bool(cleaned.get("username")) == bool(cleaned.get("ip_address")):
            raise forms.ValidationError("Name either a username or an address to unlock.")
        return cleaned


class UsernameConfirmForm(forms.Form):
    """What deactivating a user or resetting their password asks first: their username, typed."""

    confirm = forms.CharField(label="Type their username to confirm", max_length=150)

    def __init__(self, *args: Any, user: AbstractBaseUser, action: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user, self.action = user, action

    def clean_confirm(self) -> str:
        confirm = self.cleaned_data["confirm"].strip()
        if confirm != self.user.get_username():
            raise forms.ValidationError(f"Type {self.user.get_username()!r} exactly to {self.action}.")
        return confirm
