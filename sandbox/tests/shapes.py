"""Walk a response against a botocore output shape: on the wire (raw JSON) and as parsed by the SDK."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from botocore.model import Shape


def wire_problems(shape: Shape, value: Any, path: str = "$") -> list[str]:
    """What in a raw rest-json document does not fit the shape: unknown members, types, enums, required members."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        wire_names = {member.serialization.get("name", name): (name, member) for name, member in shape.members.items()}
        problems = [f"{path}.{key}: not a member of {shape.name}" for key in value if key not in wire_names]
        for required in shape.required_members:
            wire = shape.members[required].serialization.get("name", required)
            if wire not in value:
                problems.append(f"{path}.{wire}: required member missing")
        for key, item in value.items():
            if key in wire_names:
                problems += wire_problems(wire_names[key][1], item, f"{path}.{key}")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [p for index, item in enumerate(value) for p in wire_problems(shape.member, item, f"{path}[{index}]")]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map"]
        return [p for key, item in value.items() for p in wire_problems(shape.value, item, f"{path}[{key}]")]
    return _scalar_problems(shape, value, path, wire=True)


def parsed_problems(shape: Shape, value: Any, path: str = "$") -> list[str]:
    """The same checks on what an SDK parsed (timestamps as datetimes, blobs as bytes)."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected a dict"]
        problems = [
            f"{path}.{key}: not a member" for key in value if key not in shape.members and key != "ResponseMetadata"
        ]
        problems += [f"{path}.{name}: required member missing" for name in shape.required_members if name not in value]
        for name, member in shape.members.items():
            if name in value and member.serialization.get("location") is None:
                problems += parsed_problems(member, value[name], f"{path}.{name}")
        return problems
    if kind == "list":
        return [p for index, item in enumerate(value) for p in parsed_problems(shape.member, item, f"{path}[{index}]")]
    if kind == "map":
        return [p for key, item in value.items() for p in parsed_problems(shape.value, item, f"{path}[{key}]")]
    return _scalar_problems(shape, value, path, wire=False)


def _scalar_problems(shape: Shape, value: Any, path: str, *, wire: bool) -> list[str]:
    kind = shape.type_name
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {value!r}"]
        enum = getattr(shape, "enum", None)
        if enum and value not in enum:
            return [f"{path}: {value!r} is not one of {enum}"]
        return []
    if kind in ("integer", "long"):
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{path}: expected an integer"]
    if kind in ("float", "double"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean"]
    if kind == "timestamp":
        if not wire:
            return [] if isinstance(value, dt.datetime) else [f"{path}: expected a datetime"]
        fmt = shape.serialization.get("timestampFormat") or shape.metadata.get("timestampFormat") or "unixTimestamp"
        if fmt == "iso8601":
            try:
                dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                return [f"{path}: {value!r} is not ISO 8601"]
            return []
        return [] if isinstance(value, (int, float)) else [f"{path}: expected epoch seconds"]
    if kind == "blob":
        if not wire:
            return [] if isinstance(value, bytes) else [f"{path}: expected bytes"]
        try:
            base64.b64decode(value, validate=True)
        except (TypeError, ValueError):
            return [f"{path}: not base64"]
    return []


def raw_json(body: bytes) -> Any:
    return json.loads(body) if body else {}
