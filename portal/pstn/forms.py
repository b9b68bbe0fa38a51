"""PSTN forms: what AWS would refuse is refused here, next to the field, from the chime-sdk-voice model."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from portal.aws.shapes import shape_limits, shape_validators
from portal.core.forms import UntruncatedForm
from portal.core.identities import REASON_MAX_LENGTH
from portal.pstn.models import Lifecycle, PhoneNumber, SipMediaApplication, SipRule
from portal.pstn.services import E164

VOICE = "chime-sdk-voice"
# A rule lists at most this many target applications, so as many priorities order any of them (and the portal's own
# rules among themselves).
PRIORITY_MAX = shape_limits(VOICE, "SipRuleTargetApplicationList")[1] or 25


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
    priority = forms.IntegerField(min_value=1, max_value=PRIORITY_MAX, initial=1, help_text=f"1 to {PRIORITY_MAX}.")
    disabled = forms.BooleanField(required=False, help_text="A disabled rule routes no calls.")

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = _usable_smas()
        usable = list(_usable_smas()[:2])
        if len(usable) == 1 and "target" not in self.initial:  # the only choice is chosen
            self.fields["target"].initial = usable[0].pk
        if editing:  # AWS does not change a rule's trigger: delete it and create another
            del self.fields["trigger_type"], self.fields["trigger_value"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        number_rule = cleaned.get("trigger_type") == SipRule.Trigger.TO_PHONE_NUMBER
        if number_rule and "trigger_value" in cleaned and not E164.fullmatch(cleaned["trigger_value"]):
            self.add_error("trigger_value", "A called number is in E.164: + then 2 to 15 digits.")
        return cleaned


class NumberSearchForm(UntruncatedForm):
    """SearchAvailablePhoneNumbers' criteria (US numbers): a local search by area code, or state (and city); a
    toll-free one by prefix, or any prefix."""

    number_type = forms.ChoiceField(
        label="Type", choices=[("Local", "Local"), ("TollFree", "Toll-free")], initial="Local"
    )
    area_code = forms.RegexField(
        regex=r"^[2-9][0-9]{2}$", required=False, error_messages={"invalid": "An area code has 3 digits, e.g. 206."}
    )
    state = forms.RegexField(
        regex=r"^[A-Z]{2}$", required=False, help_text="Two letters, e.g. WA.",
        error_messages={"invalid": "A state is two capital letters, e.g. WA."},
    )  # fmt: skip
    city = forms.CharField(max_length=64, required=False, help_text="With its state.")
    toll_free_prefix = forms.ChoiceField(
        required=False,
        choices=[("", "Any")] + [(prefix, prefix) for prefix in ("800", "833", "844", "855", "866", "877", "888")],
    )
    max_results = forms.IntegerField(label="At most", min_value=1, max_value=500, initial=20)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        local = {key: cleaned.get(key) for key in ("area_code", "state", "city") if cleaned.get(key)}
        if cleaned.get("number_type") == "TollFree":
            if local:
                self.add_error(None, "A toll-free search takes no area code, state or city.")
        elif cleaned.get("toll_free_prefix"):
            self.add_error("toll_free_prefix", "A prefix confines a toll-free search; choose the type Toll-free.")
        elif not local and not self.errors:
            self.add_error(None, "Give an area code, or a state (and city).")
        elif "city" in local and "state" not in local:
            self.add_error("state", "A city needs its state.")
        return cleaned

    def criteria(self) -> dict[str, str]:
        """The API's members for SearchAvailablePhoneNumbers."""
        data = self.cleaned_data
        members = {"Country": "US", "PhoneNumberType": data["number_type"]}
        for field, member in (("area_code", "AreaCode"), ("state", "State"), ("city", "City"),
                              ("toll_free_prefix", "TollFreePrefix")):  # fmt: skip
            if data.get(field):
                members[member] = data[field]
        return members


class NumberOrderForm(UntruncatedForm):
    numbers = forms.MultipleChoiceField(
        label="Numbers to order",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one number."},
    )
    name = forms.CharField(
        required=False,
        validators=shape_validators(VOICE, "PhoneNumberName", what="A name"),
        help_text="Optional; given to every number ordered. Letters, digits, spaces and , . _ -",
    )

    def __init__(self, *args: Any, available: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["numbers"].choices = [(number, number) for number in available]


class NumberForm(UntruncatedForm):
    name = forms.CharField(
        required=False,
        validators=shape_validators(VOICE, "PhoneNumberName", what="A name"),
        help_text="Up to 256 letters, digits, spaces and , . _ -",
    )
    calling_name = forms.CharField(
        required=False,
        validators=shape_validators(VOICE, "CallingName", what="A calling name"),
        help_text="The name carriers show for calls from this number: 2 to 15 letters, digits and spaces. "
        "AWS takes up to 72 hours to apply it.",
    )
    product_type = forms.ChoiceField(choices=PhoneNumber.ProductType.choices)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not self.errors and not self.has_changed():
            self.add_error(None, "Nothing changed.")
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
