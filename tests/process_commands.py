"""Checks that a process command (Procfile, compose.yaml) names things that exist, with options its program knows."""

from __future__ import annotations

import importlib
import importlib.util
import shlex
from pathlib import Path

from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[1]


def argv_of(command: list[str] | str) -> list[str]:
    """A compose command as words; `sh -c "a && exec b"` gives the words of a and b."""
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    if argv[:2] == ["sh", "-c"]:
        return [word for part in argv[2].split("&&") for word in shlex.split(part) if word != "exec"]
    return argv


def _assert_gunicorn(arguments: list[str]) -> None:
    from gunicorn.config import Config

    parsed = Config().parser().parse_args(arguments)  # exits on an option gunicorn does not know
    if parsed.config:
        assert (ROOT / parsed.config).is_file(), f"no {parsed.config}"
    module, attribute = parsed.args[0].split(":")
    assert hasattr(importlib.import_module(module), attribute)


def _assert_celery(arguments: list[str]) -> None:
    from celery.bin.celery import celery

    assert arguments[:2] == ["-A", "portal"]
    assert hasattr(importlib.import_module("portal"), "celery_app")
    command = celery.commands[arguments[2]]
    known = {name for parameter in command.params for name in (*parameter.opts, *parameter.secondary_opts)}
    options = {word.split("=")[0] for word in arguments[3:] if word.startswith("-")}
    assert options <= known, f"celery {arguments[2]} has no option {sorted(options - known)}"


def assert_command_exists(argv: list[str]) -> None:
    if argv[:2] == ["python", "-m"]:
        assert importlib.util.find_spec(argv[2]) is not None, f"no module {argv[2]!r}"
    if "manage.py" in argv:
        name = argv[argv.index("manage.py") + 1]
        assert name in get_commands(), f"manage.py has no command {name!r}"
    if argv[:3] == ["python", "-m", "gunicorn"]:
        _assert_gunicorn(argv[3:])
    if argv[:3] == ["python", "-m", "celery"]:
        _assert_celery(argv[3:])
    if argv[:1] == ["rtc-sandbox"]:
        from rtc_sandbox.server import arguments_parse

        arguments_parse(argv[1:])  # exits on an option rtc-sandbox does not know
