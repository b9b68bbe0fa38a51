"""PSTN forms: what AWS would refuse is refused here, next to the field, from the chime-sdk-voice model."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from portal.aws.shapes import shape_validators
from portal.core.forms import UntruncatedForm
from portal.core.identities import REASON_MAX_LENGTH
from portal.pstn.models import Lifecycle, SipMediaApplication, SipRule
from portal.pstn.services import E164

VOICE = "chime-sdk-voice"


class SmaForm(UntruncatedForm):
    name = forms.CharField(
        validators=shape_validators(VOICE, "SipMediaApplicationName", what="A name"),
        help_text="1 to 256 letters, digits, spaces, _ . -",
    )
    aws_region = forms.CharField(label="AWS Region", initial=settings.AWS_REGION, max_length=32)
    lambda_arn = forms.CharField(
        label="Lambda ARN",
        validators=shape_validators(VOICE, "FunctionArn", what="A Lambda ARN"),
        help_text="The SMA forwarder function (deploy/sma_forwarder), e.g. "
        "arn:aws:lambda:us-east-1:123456789012:function:rtc-portal-sma",
    )


def _usable_smas() -> Any:
    return SipMediaApplication.objects.filter(status=Lifecycle.ACTIVE)


class SipRuleForm(UntruncatedForm):
    name = forms.CharField(
        validators=shape_validators(VOICE, "SipRuleName", what="A name"),
        help_text="1 to 256 letters, digits, spaces, _ . -",
    )
    trigger_type = forms.ChoiceField(choices=SipRule.Trigger.choices, initial=SipRule.Trigger.TO_PHONE_NUMBER)
    trigger_value = forms.CharField(
        max_length=256, help_text="The called number in E.164 (+12065550100), or the request URI's hostname."
    )
    target = forms.ModelChoiceField(queryset=_usable_smas(), label="SIP media application")
    priority = forms.IntegerField(min_value=1, initial=1)
    disabled = forms.BooleanField(required=False, help_text="A disabled rule routes no calls.")

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = _usable_smas()
        if editing:  # AWS does not change a rule's trigger: delete it and create another
            del self.fields["trigger_type"], self.fields["trigger_value"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        number_rule = cleaned.get("trigger_type") == SipRule.Trigger.TO_PHONE_NUMBER
        if number_rule and "trigger_value" in cleaned and not E164.fullmatch(cleaned["trigger_value"]):
            self.add_error("trigger_value", "A called number is in E.164: + then 2 to 15 digits.")
        return cleaned


class DialOutForm(UntruncatedForm):
    to_number = forms.CharField(
        label="Phone number", max_length=16, help_text="E.164: + country code and number, e.g. +14155550123."
    )

    def clean_to_number(self) -> str:
        number = "".join(self.cleaned_data["to_number"].split())
        if not E164.fullmatch(number):
            raise forms.ValidationError(
                "Enter the number in E.164: + then the country code and number, 2 to 15 digits."
            )
        return number


class HangupForm(UntruncatedForm):
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        help_text=f"Required; up to {REASON_MAX_LENGTH} characters. Kept in the audit log.",
    )
