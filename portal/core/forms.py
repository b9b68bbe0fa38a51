"""Core's own forms: finding a person, and ending them everywhere with one reason."""

from __future__ import annotations

from django import forms

from portal.core.identities import REASON_MAX_LENGTH, USER_ID_MAX_LENGTH


class PersonFindForm(forms.Form):
    user_id = forms.CharField(
        label="User id",
        max_length=USER_ID_MAX_LENGTH,
        help_text="Exactly as the application set it (case matters).",
    )


class PersonEndForm(forms.Form):
    user_id = forms.CharField(max_length=USER_ID_MAX_LENGTH, widget=forms.HiddenInput)
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        help_text=f"Required; up to {REASON_MAX_LENGTH} characters. Sent to IVS and kept in the audit log.",
    )
