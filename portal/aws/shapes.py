"""The rules of a botocore service model's shapes, as Django validators: forms enforce what AWS would refuse,
reading lengths, ranges and patterns from the model instead of copying numbers by hand."""

from __future__ import annotations

from functools import cache

import botocore.session
from botocore.model import Shape
from django.core.validators import MaxLengthValidator, MinLengthValidator, RegexValidator


@cache
def shape_get(service: str, name: str) -> Shape:
    return botocore.session.get_session().get_service_model(service).shape_for(name)


def shape_limits(service: str, name: str) -> tuple[int | None, int | None]:
    """(min, max) of a string's length, a list's size or an integer's value."""
    metadata = shape_get(service, name).metadata
    return metadata.get("min"), metadata.get("max")


def shape_validators(service: str, name: str, *, what: str) -> list[object]:
    """Validators for a string shape; `what` names the value in messages ("An external meeting id")."""
    low, high = shape_limits(service, name)
    validators: list[object] = []
    if low:
        validators.append(MinLengthValidator(low, f"{what} has at least {low} characters."))
    if high:
        validators.append(MaxLengthValidator(high, f"{what} has at most {high} characters."))
    pattern = shape_get(service, name).metadata.get("pattern")
    if pattern:
        anchored = pattern if pattern.startswith("^") else f"^(?:{pattern})$"
        validators.append(RegexValidator(anchored, f"{what} contains characters AWS does not accept."))
    return validators
