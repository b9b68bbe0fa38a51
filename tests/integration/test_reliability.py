"""Stage operations under faults: throttling, 5xx, a worker child killed mid-call, the broker restarted empty.

Each property is its own subtest, so one run reports every property that does not hold, with what the sandbox shows.
"""

from __future__ import annotations

import pytest

from tests.integration.stage_drill import CHECKS, StageDrill

pytestmark = [pytest.mark.serial, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_stage_operations_take_effect_exactly_once_through_faults(
    admin, sandbox, drill_worker, drill_redis, drill_config, subtests
):
    drill = StageDrill(
        prefix="drill", actor=admin, sandbox=sandbox, worker=drill_worker, redis=drill_redis, config=drill_config
    )
    verdict = drill.run()
    print("\n".join(f"{name}: {value}" for name, value in verdict.figures.items()))
    assert verdict.figures["operations requested"] >= 200
    assert drill.killed is not None
    for check in CHECKS:
        with subtests.test(check):
            failures = verdict.failures(check)
            assert not failures, f"{len(failures)} failure(s):\n" + "\n".join(failures)
