"""README.md's "Served operations" is what the sandbox serves: every operation it lists is served, and every one
served is listed (the simulated services' operations, and moto's services)."""

from __future__ import annotations

import re
from pathlib import Path

from rtc_sandbox import app as _registers_handlers  # noqa: F401
from rtc_sandbox.moto_side import MOTO_SERVICES
from rtc_sandbox.world import HANDLERS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
MOTO_HEADING = "moto's services"


def _listed() -> dict[str, set[str]]:
    """{heading: the items under it} of the "Served operations" section: `service` for a simulated service."""
    section = README.split("\n## Served operations\n", 1)[1].split("\n## ", 1)[0]
    listed: dict[str, set[str]] = {}
    for block in section.split("\n### ")[1:]:
        heading, _, items = block.partition("\n")
        listed[heading.strip().strip("`")] = set(re.findall(r"^- `?([\w-]+)`?$", items, re.MULTILINE))
    return listed


def test_every_operation_served_is_listed_and_every_one_listed_is_served():
    listed = {
        (service, operation)
        for service, operations in _listed().items()
        if service != MOTO_HEADING
        for operation in operations
    }
    assert sorted(set(HANDLERS) - listed) == [], "served, not in README.md"
    assert sorted(listed - set(HANDLERS)) == [], "in README.md, not served"


def test_moto_s_services_are_listed():
    assert _listed()[MOTO_HEADING] == set(MOTO_SERVICES)
