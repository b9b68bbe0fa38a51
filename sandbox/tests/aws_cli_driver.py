"""AWS CLI v1 commands, one per line of standard input, run by .venv-cli's Python (never the portal's: it imports
awscli). Each line is a JSON list of arguments, as `aws` would get them; each answer, a line of JSON
{"rc", "stdout", "stderr"}. It runs each command as the `aws` script does (`awscli.clidriver.main()`: a new driver and
botocore session per command), in one process, so the pass does not pay the CLI's start-up for every command."""

from __future__ import annotations

import contextlib
import io
import json
import sys

from awscli.clidriver import create_clidriver


def run(arguments: list[str]) -> dict[str, object]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            rc = create_clidriver().main(arguments)
        except SystemExit as exit_:  # argparse's usage errors exit
            rc = exit_.code if isinstance(exit_.code, int) else 1
    return {"rc": rc, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}


def main() -> None:
    answers = sys.stdout
    for line in sys.stdin:
        answers.write(json.dumps(run(json.loads(line))) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
