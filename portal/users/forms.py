from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from portal.core.roles import Role

ROLE_CHOICES = [(role.value, role.value) for role in Role]


class UserCreateForm(forms.ModelForm):
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=Role.VIEWER.value)

    class Meta:
        model = get_user_model()
        fields = ["username", "email"]


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class ActiveForm(forms.Form):
    active = forms.BooleanField(required=False)


class UnlockForm(forms.Form):
    username = forms.CharField(max_length=255, required=False)
    ip_address = forms.GenericIPAddressField(required=False)

    def clean(self) -> dict[str, str]:
        cleaned = super().clean() or {}
        if bool(cleaned.get("username")) == bool(cleaned.get("ip_address")):
            raise forms.ValidationError("Name either a username or an address to unlock.")
        return cleaned
