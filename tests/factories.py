"""Rows for tests and benchmarks (factory-boy). Each factory makes a valid row with nothing else to say, e.g.
`UserFactory(role=Role.SUPPORT)` (the role groups must exist), `StageFactory(tags={"team": "rtc"})` (active in AWS),
`ParticipantFactory(session__stage=stage)` (connected, in a new session of `stage`), or
`OperationFactory(kind="stages.rename", status=Operation.Status.FAILED, error_code="ConflictException")`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from portal.core.models import Operation
from portal.core.roles import Role
from portal.stages.models import Participant, ParticipantToken, Stage, StageSession

PASSWORD = "correct-horse-battery"
ACCOUNT = "123456789012"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user-{n}")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def role(user: Any, create: bool, role: Role | None, **kwargs: Any) -> None:
        if not create or role is None:
            return
        user.groups.set([Group.objects.get(name=role.value)])


class StageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Stage

    name = factory.Sequence(lambda n: f"stage-{n}")
    arn = factory.Sequence(lambda n: f"arn:aws:ivs:us-east-1:{ACCOUNT}:stage/s{n:06d}")
    region = "us-east-1"
    status = Stage.Status.ACTIVE
    tags = factory.LazyFunction(dict)


class StageSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StageSession

    stage = factory.SubFactory(StageFactory)
    session_id = factory.Sequence(lambda n: f"st-S{n:012d}")
    started_at = factory.LazyFunction(timezone.now)


class ParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Participant

    session = factory.SubFactory(StageSessionFactory)
    participant_id = factory.Sequence(lambda n: f"p{n:011d}")
    user_id = factory.Sequence(lambda n: f"user-{n}")
    state = Participant.State.CONNECTED


class ParticipantTokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ParticipantToken

    stage = factory.SubFactory(StageFactory)
    participant_id = factory.Sequence(lambda n: f"p{n:011d}")
    user_id = factory.Sequence(lambda n: f"user-{n}")
    capabilities = factory.LazyFunction(lambda: ["PUBLISH", "SUBSCRIBE"])
    duration_minutes = 720
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=720))


class OperationFactory(factory.django.DjangoModelFactory):
    """An operation row as the pipeline leaves it; nothing is queued (use operation_request for that)."""

    class Meta:
        model = Operation

    kind = "aws.check_connection"
    target = "sts"
    actor = None
    actor_name = factory.LazyAttribute(lambda o: o.actor.get_username() if o.actor else "scheduler")
    status = Operation.Status.QUEUED
    attempts = factory.LazyAttribute(lambda o: 0 if o.status == Operation.Status.QUEUED else 1)
    finished_at = factory.LazyAttribute(lambda o: timezone.now() if o.status in Operation.TERMINAL else None)


class ChannelFactory(factory.django.DjangoModelFactory):
    """A signaling channel ACTIVE in AWS, as the registry holds it (nothing is created in the sandbox)."""

    class Meta:
        model = "channels.Channel"

    name = factory.Sequence(lambda n: f"channel-{n:05d}")
    arn = factory.LazyAttributeSequence(
        lambda channel, n: f"arn:aws:kinesisvideo:us-east-1:{ACCOUNT}:channel/{channel.name}/{1700000000000 + n}"
    )
    region = "us-east-1"
    status = "active"
    version = factory.Sequence(lambda n: f"v{n:019d}")
    message_ttl = 60
    tags = factory.LazyFunction(dict)
