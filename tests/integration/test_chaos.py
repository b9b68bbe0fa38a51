"""The chaos drill of the whole portal, short: the stack `make run` starts on a PostgreSQL and a Redis of the test's
own, a workload through the web UI and the sandbox, every process killed in turn, Redis and PostgreSQL restarted.

Each check (tests/integration/chaos_drill.py) is its own subtest, so one run reports every property that does not
hold, with what the prober, the processes, the sandbox and the database show.
"""

from __future__ import annotations

import shutil

import pytest

from tests.backing_services import missing
from tests.integration.chaos_drill import CHECKS, POSTGRES_BIN, ChaosDrill, figures_text
from tests.integration.fault_harness import REDIS_SERVER

pytestmark = [pytest.mark.serial, pytest.mark.redis]


def test_the_portal_stays_up_and_every_effect_happens_once_through_chaos(subtests, tmp_path):
    if not (POSTGRES_BIN / "initdb").exists() or not shutil.which(REDIS_SERVER):
        missing(f"The chaos drill starts its own PostgreSQL ({POSTGRES_BIN}) and redis-server ({REDIS_SERVER})")
    drill = ChaosDrill(keep_log=tmp_path / "serve.log")
    verdict = drill.run()
    print(figures_text(verdict.figures))
    assert verdict.figures["meetings requested through the UI"] >= 2
    assert [fault.name for fault in drill.faults] == [
        "web worker", "operations worker child", "refresher", "beat", "meeting-events consumer",
        "Redis stopped and restarted", "PostgreSQL stopped and restarted",
    ]  # fmt: skip
    for check in CHECKS:
        with subtests.test(check):
            failures = verdict.failures(check)
            assert not failures, f"{len(failures)} failure(s):\n" + "\n".join(failures)
