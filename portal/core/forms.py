"""Core's forms: what every portal form shares, finding a person, and ending them everywhere with one reason."""

from __future__ import annotations

from typing import Any

from django import forms

from portal.core.identities import REASON_MAX_LENGTH, USER_ID_MAX_LENGTH


class UntruncatedForm(forms.Form):
    """A form whose inputs carry no `maxlength`: a browser cuts a longer value silently (typed or pasted), so the
    field's own validation answers instead, saying how long the value is and how long it may be."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.pop("maxlength", None)


class PersonFindForm(UntruncatedForm):
    user_id = forms.CharField(
        label="User id",
        max_length=USER_ID_MAX_LENGTH,
        help_text="Exactly as the application set it (case matters).",
    )


class PersonEndForm(UntruncatedForm):
    user_id = forms.CharField(max_length=USER_ID_MAX_LENGTH, widget=forms.HiddenInput)
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        help_text=f"Required; up to {REASON_MAX_LENGTH} characters. Kept in the audit log.",
    )

    def say_where_the_reason_goes(self, services: list[str]) -> None:
        """The reason's help names the services that receive it ("IVS" for stages); Chime's DeleteAttendee takes
        none, so for meetings it is only kept in the audit log."""
        if services:
            self.fields["reason"].help_text = (
                f"Required; up to {REASON_MAX_LENGTH} characters. Sent to {' and '.join(services)} and kept in the "
                "audit log."
            )
