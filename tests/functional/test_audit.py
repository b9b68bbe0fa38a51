"""Support reads the audit log in a real browser: who was disconnected from which stage, found by the stage's name and
part of the actor's name, and the CSV export a spreadsheet can open safely."""

from __future__ import annotations

import csv
import io

import pytest

from portal.core.models import AuditEntry
from portal.core.roles import Role
from portal.stages import services
from portal.stages.models import Participant, Stage
from portal.stages.refresh import stages_refresh
from tests.conftest import sandbox_boto

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def audited(aws_endpoint, sandbox, make_user):
    """Two stages in the sandbox; support disconnected alice from one, revoking her token; the admin tagged the other.
    The operations ran (tasks are eager here), so each has its requested and its succeeded entry."""
    admin, support = make_user("ada", Role.ADMIN), make_user("sam", Role.SUPPORT)
    sandbox.quotas(enabled=False)
    ivs = sandbox_boto(sandbox.endpoint, "ivs-realtime")
    stages = {}
    for name in ("town-hall", "backstage"):
        created = ivs.create_stage(name=name, participantTokenConfigurations=[{"userId": "alice"}])
        stages[name] = Stage.objects.create(arn=created["stage"]["arn"], name=name, region="us-east-1",
                                            status=Stage.Status.ACTIVE)  # fmt: skip
        if name == "town-hall":
            sandbox.stage_join(created["participantTokens"][0]["token"], publish=True)
    stages_refresh()
    alice = Participant.objects.get(user_id="alice")
    services.stage_disconnect_participant(actor=support, participant=alice, reason="=1+2 spam", revoke_token=True)
    services.stage_tag(actor=admin, stage=stages["backstage"], tags={"team": "media"})
    assert AuditEntry.objects.filter(event="succeeded").count() == 2
    return {"alice": alice, "stages": stages, "support": support}


def test_support_finds_a_disconnect_by_stage_name_and_exports_it(audited, live_server, page, log_in, tmp_path):
    alice = audited["alice"]
    log_in(audited["support"])
    page.goto(f"{live_server.url}/audit/")
    assert page.locator("tbody tr").count() == 4 + 1  # and sam's login

    page.get_by_label("Target").fill("town")
    page.get_by_label("Actor").fill("SA")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/audit/?*target=town*")
    rows = page.locator("tbody tr")
    assert rows.count() == 2
    summary = f"Disconnect participant alice ({alice.participant_id}) from town-hall, token revoked"
    for row, outcome in zip(rows.all(), ("Succeeded", "Requested"), strict=True):
        cells = row.locator("td").all_inner_texts()
        assert cells[1] == "sam"
        assert cells[2].startswith(summary)
        assert cells[3].startswith("town-hall\n")
        assert cells[5] == outcome
    page.screenshot(path=str(tmp_path / "audit.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    exported = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert [(row["summary"], row["resource"], row["outcome"]) for row in exported] == [
        (summary, "town-hall", "succeeded"),
        (summary, "town-hall", "requested"),
    ]
    assert {row["reason"] for row in exported} == {"'=1+2 spam"}
