"""The chaos drill of the whole portal (tests/integration/chaos_drill.py) for longer: the faults come round again and
again while the workload runs, then the checks and the figures.

    .venv/bin/python bench/chaos.py [--minutes 5] [--faults web worker ...] [--log serve.log]

Starts, and removes at the end: a PostgreSQL of its own (initdb of /usr/lib/postgresql/15/bin, or POSTGRES_BIN, on a
free port), a redis-server on a free port in 18100-18199 and `manage.py serve` on them (the sandbox included).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.chaos_drill import CHECKS, FAULTS, ChaosDrill, ChaosSize, figures_text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=5, help="how long the faults keep coming round")
    parser.add_argument("--log", type=Path, help="keep serve's log (every process's output) in this file")
    parser.add_argument("--faults", nargs="+", choices=FAULTS, default=list(FAULTS), help="only these faults")
    args = parser.parse_args()
    size = ChaosSize(minutes=args.minutes, meetings_per_round=3, fleet=20, callers_per_round=2,
                     faults=tuple(args.faults))  # fmt: skip
    drill = ChaosDrill(size=size, keep_log=args.log)
    verdict = drill.run()
    print(figures_text(verdict.figures))
    print("checks:")
    for check in CHECKS:
        failures = verdict.failures(check)
        print(f"  {'FAIL' if failures else 'ok  '} {check}" + (f" ({len(failures)})" if failures else ""))
        for text in failures[:10]:
            print(f"         {text}")


if __name__ == "__main__":
    main()
