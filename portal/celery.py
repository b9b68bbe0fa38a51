from __future__ import annotations

import os
from typing import TYPE_CHECKING

from celery import Celery, bootsteps
from celery.signals import beat_init, before_task_publish

if TYPE_CHECKING:
    from celery.worker.consumer import Consumer

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class Heartbeat(bootsteps.StartStopStep):
    """A worker's heartbeat file (portal.core.health), touched from its consumer's event loop every few seconds and
    named by the part of its --hostname before the @ (`worker`, `refresher`): stale when the loop is stuck or the
    consumer has lost its broker."""

    def __init__(self, parent: Consumer, **kwargs: object) -> None:
        super().__init__(parent, **kwargs)
        self.timer_entry = None

    def start(self, parent: Consumer) -> None:
        from portal.core.health import HEARTBEAT_SECONDS, heartbeat

        name = parent.hostname.split("@")[0]
        heartbeat(name)
        self.timer_entry = parent.timer.call_repeatedly(HEARTBEAT_SECONDS, heartbeat, (name,))

    def stop(self, parent: Consumer) -> None:
        if self.timer_entry is not None:
            parent.timer.cancel(self.timer_entry)
            self.timer_entry = None


app.steps["consumer"].add(Heartbeat)


def _beat_heartbeat(**kwargs: object) -> None:
    from portal.core.health import heartbeat

    heartbeat("beat")


@beat_init.connect
def _beat_heartbeat_wire(sender: object, **kwargs: object) -> None:
    """Beat's heartbeat: each task it sends (refreshes every REFRESH_TICK_SECONDS, sweeps every 10 s) touches it."""
    _beat_heartbeat()
    before_task_publish.connect(_beat_heartbeat, weak=False)
