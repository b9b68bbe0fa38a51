"""The sandbox driven by a second serializer: the AWS SDK for JavaScript v3 suite in tests/js (`node --test`), run
against the suite's sandbox. Every operation the sandbox simulates must be answered there at least once without an
error and at least once with one of its modelled errors, so a new operation cannot be served without a JavaScript
case."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import botocore.session
import pytest
from second_clients import JS, node

from rtc_sandbox import app as _registers_handlers  # noqa: F401
from rtc_sandbox.client import SandboxControl
from rtc_sandbox.world import HANDLERS

TIMEOUT = 300
MODELS = botocore.session.get_session()
JsRun = subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def js_run(sandbox_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[JsRun, Path]]:
    """One run of the whole JavaScript suite on an empty world, and the file of what the sandbox answered it
    (service, operation, "ok" or the error's name, a line each)."""
    executable = node()
    control = SandboxControl(sandbox_server.url)
    control.reset()
    control.quotas(enabled=False)  # the suite sends its requests as fast as it can; the rate limits have their tests
    # The clock stands still: lifecycles move only when the suite advances it, so a slow machine cannot turn a channel
    # ACTIVE before the suite has read it CREATING.
    control.set_clock_scale(0)
    folder = tmp_path_factory.mktemp("js")
    exercised = folder / "exercised.tsv"
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(folder),  # no ~/.aws: the suite's clients take everything from their own configuration
        "SANDBOX_ENDPOINT": sandbox_server.url,
        "SANDBOX_JS_EXERCISED": str(exercised),
    }
    command = [executable, "--test", "--test-reporter=spec", "all-tests.mjs"]
    try:
        result = subprocess.run(
            command, cwd=JS, env=environment, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
        yield result, exercised
    finally:
        control.reset()


def _answered(exercised: Path) -> set[tuple[str, str, str]]:
    lines = exercised.read_text().splitlines() if exercised.exists() else []
    return {tuple(line.split("\t")) for line in lines}  # type: ignore[misc]


def test_the_javascript_sdk_suite_passes(js_run):
    result, _ = js_run
    assert result.returncode == 0, f"node --test failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"


def test_every_simulated_operation_is_answered_without_an_error_in_the_javascript_suite(js_run):
    _, exercised = js_run
    answered_ok = {(service, operation) for service, operation, outcome in _answered(exercised) if outcome == "ok"}
    assert sorted(set(HANDLERS) - answered_ok) == []


def test_every_simulated_operation_answers_the_javascript_suite_one_of_its_documented_errors(js_run):
    _, exercised = js_run
    errors: dict[tuple[str, str], set[str]] = {}
    for service, operation, outcome in _answered(exercised):
        if outcome != "ok" and (service, operation) in HANDLERS:
            errors.setdefault((service, operation), set()).add(outcome)
    assert sorted(set(HANDLERS) - set(errors)) == []
    undocumented = {
        key: sorted(
            names - {shape.name for shape in MODELS.get_service_model(key[0]).operation_model(key[1]).error_shapes}
        )
        for key, names in errors.items()
    }
    assert {key: names for key, names in undocumented.items() if names} == {}
