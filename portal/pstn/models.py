"""PSTN: the SIP media applications, SIP rules and phone numbers the portal manages (its registry of them), the
calls their handler has seen with a timeline of invocations, each active meeting's dial-in PIN, and the wrong PINs
counted against calling and dial-in numbers."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from portal.core.models import Operation
from portal.meetings.models import Meeting


class Lifecycle(models.TextChoices):
    CREATING = "creating", "Creating"
    ACTIVE = "active", "Active"
    DELETING = "deleting", "Deleting"
    DELETED = "deleted", "Deleted"
    FAILED = "failed", "Creation failed"


class SipMediaApplication(models.Model):
    sma_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    name = models.CharField(max_length=256)
    aws_region = models.CharField(max_length=32)
    lambda_arn = models.CharField(max_length=512)
    status = models.CharField(max_length=16, choices=Lifecycle.choices, default=Lifecycle.CREATING, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_usable(self) -> bool:
        return self.status == Lifecycle.ACTIVE and bool(self.sma_id)


class SipRule(models.Model):
    class Trigger(models.TextChoices):
        TO_PHONE_NUMBER = "ToPhoneNumber", "Called number"
        REQUEST_URI_HOSTNAME = "RequestUriHostname", "Request URI hostname"

    rule_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    name = models.CharField(max_length=256)
    trigger_type = models.CharField(max_length=24, choices=Trigger.choices, default=Trigger.TO_PHONE_NUMBER)
    trigger_value = models.CharField(max_length=256)
    disabled = models.BooleanField(default=False)
    target = models.ForeignKey(SipMediaApplication, on_delete=models.PROTECT, related_name="rules")
    priority = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=16, choices=Lifecycle.choices, default=Lifecycle.CREATING, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_usable(self) -> bool:
        return self.status == Lifecycle.ACTIVE and bool(self.rule_id)


class PhoneNumber(models.Model):
    """A phone number of the account, as ListPhoneNumbers (or the portal's last change to it) last said."""

    class ProductType(models.TextChoices):
        SMA_DIAL_IN = "SipMediaApplicationDialIn", "SIP media application dial-in"
        VOICE_CONNECTOR = "VoiceConnector", "Voice Connector"

    UNASSIGNED = "Unassigned"
    IN_DELETION_QUEUE = ("DeleteInProgress", "ReleaseInProgress")

    phone_number_id = models.CharField(max_length=64, unique=True)
    e164 = models.CharField(max_length=16)
    country = models.CharField(max_length=2, blank=True)
    number_type = models.CharField(max_length=16, blank=True)
    product_type = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=32, blank=True)
    name = models.CharField(max_length=256, blank=True)
    calling_name = models.CharField(max_length=15, blank=True, help_text="The outbound caller name carriers show.")
    calling_name_status = models.CharField(max_length=32, blank=True)
    order_id = models.CharField(max_length=64, blank=True, help_text="The order that acquired it.")
    sip_rule_id = models.CharField(max_length=64, blank=True, help_text="The SIP rule it is associated with.")
    present = models.BooleanField(default=True, help_text="Listed by AWS at the last refresh.")
    refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["e164"]

    def __str__(self) -> str:
        return self.e164

    @property
    def in_deletion_queue(self) -> bool:
        return self.status in self.IN_DELETION_QUEUE


class PhoneNumberOrder(models.Model):
    """An order for new numbers (CreatePhoneNumberOrder), followed by the phone numbers refresher until AWS settles
    it; its numbers then join the account's."""

    REQUESTED = "Requested"  # the portal's own: AWS has not answered yet
    NOT_PLACED = "NotPlaced"  # the portal's own: AWS refused the order
    SETTLED = ("Successful", "Partial", "Failed", "Cancelled", "Exception", NOT_PLACED)

    order_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    product_type = models.CharField(max_length=32, choices=PhoneNumber.ProductType.choices)
    name = models.CharField(max_length=256, blank=True, help_text="Given to every number of the order.")
    status = models.CharField(max_length=32, default=REQUESTED, db_index=True)
    numbers = models.JSONField(default=list, help_text="[{e164, status}] as AWS last said.")
    created_at = models.DateTimeField(auto_now_add=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"order {self.order_id or self.pk}"

    @property
    def is_settled(self) -> bool:
        return self.status in self.SETTLED


class DialInPin(models.Model):
    """A meeting's dial-in PIN: six digits, unique among the PINs of active meetings."""

    meeting = models.OneToOneField(Meeting, on_delete=models.CASCADE, related_name="dial_in_pin")
    pin = models.CharField(max_length=6)
    active = models.BooleanField(default=True, help_text="False once the meeting is no longer active.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pin"], condition=Q(active=True), name="pin_unique_if_active")]

    def __str__(self) -> str:
        return f"PIN of {self.meeting_id}"


class PhoneCall(models.Model):
    """A call the SMA's handler has seen. Numbers are kept masked; the caller's attendee is its meeting's."""

    class Direction(models.TextChoices):
        INBOUND = "inbound", "Dial-in"
        OUTBOUND = "outbound", "Dial-out"

    class State(models.TextChoices):
        REQUESTED = "requested", "Requested"
        RINGING = "ringing", "Ringing"
        PIN = "pin", "Asked for the PIN"
        JOINING = "joining", "Joining"
        IN_MEETING = "in_meeting", "In the meeting"
        ENDING = "ending", "Hanging up"
        ENDED = "ended", "Ended"
        REJECTED = "rejected", "Wrong PIN"
        FAILED = "failed", "Failed"

    LIVE_STATES = (State.REQUESTED, State.RINGING, State.PIN, State.JOINING, State.IN_MEETING, State.ENDING)

    transaction_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    from_masked = models.CharField(max_length=20, blank=True)
    to_masked = models.CharField(max_length=20, blank=True)
    sma = models.ForeignKey(SipMediaApplication, null=True, blank=True, on_delete=models.SET_NULL)
    meeting = models.ForeignKey(Meeting, null=True, blank=True, on_delete=models.SET_NULL, related_name="phone_calls")
    state = models.CharField(max_length=16, choices=State.choices, default=State.REQUESTED, db_index=True)
    legs = models.JSONField(default=list, blank=True, help_text="Participants as the last invocation listed them.")
    attendee_id = models.CharField(max_length=64, blank=True)
    external_user_id = models.CharField(max_length=64, blank=True)
    muted = models.BooleanField(default=False)
    attendee_released = models.BooleanField(default=False, help_text="Its attendee's removal has been requested.")
    note = models.CharField(max_length=256, blank=True, help_text="What happened last, in words.")
    hangup_operation = models.ForeignKey(Operation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    changed_at = models.DateTimeField(auto_now=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["meeting", "state"])]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.from_masked} → {self.to_masked}"

    @property
    def is_live(self) -> bool:
        return self.state in self.LIVE_STATES


class CallInvocation(models.Model):
    """One invocation of the handler for a call: the event, and what the handler answered."""

    call = models.ForeignKey(PhoneCall, on_delete=models.CASCADE, related_name="invocations")
    sequence = models.IntegerField(default=0)
    event_type = models.CharField(max_length=32)
    action_type = models.CharField(max_length=48, blank=True, help_text="The ActionData's Type, if any.")
    answered = models.CharField(max_length=256, blank=True, help_text="The action types answered, in order.")
    note = models.CharField(max_length=256, blank=True)
    server_ms = models.FloatField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_at", "id"]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.sequence}"


class WrongPins(models.Model):
    """The wrong PINs entered from one calling number, or to one dial-in number, in the current window; a lockout
    once they reach the limit (portal.pstn.pin_limits). The number itself is never stored: a keyed digest finds its
    row, and the row shows it masked (a calling number) or in full (the portal's own dial-in number)."""

    class Scope(models.TextChoices):
        CALLER = "caller", "Calling number"
        DIAL_IN = "dial_in", "Dial-in number"

    scope = models.CharField(max_length=8, choices=Scope.choices)
    number_digest = models.CharField(max_length=64, help_text="HMAC-SHA256 of the number with the SECRET_KEY.")
    number_shown = models.CharField(max_length=20)
    wrong_pins = models.PositiveIntegerField(default=0, help_text="In the window that started at window_started_at.")
    window_started_at = models.DateTimeField()
    locked_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "number_digest"], name="wrong_pins_one_per_number")]
        verbose_name_plural = "wrong PINs"

    def __str__(self) -> str:
        return f"{self.get_scope_display()} {self.number_shown}"
