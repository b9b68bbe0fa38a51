from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from celery import Celery, bootsteps
from celery.signals import beat_init, before_task_publish
from kombu import Connection
from kombu.exceptions import OperationalError
from kombu.transport import TRANSPORT_ALIASES, redis
from redis.exceptions import ConnectionError as RedisConnectionError

if TYPE_CHECKING:
    from celery.worker.consumer import Consumer

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


class RedisTransport(redis.Transport):
    """kombu's Redis transport, except that it keeps its connection's parameters until it is garbage.

    When Redis goes away under a worker, Celery collects the broken connection, which detaches the transport from it
    (`transport.client = None`), and then closes the connection. A channel whose first close was cut short by the
    lost connection (reading the reply of the BRPOP in flight) is closed again then, and restoring the message the
    worker is running opens a Redis client from `transport.client.hostname`: AttributeError, which is no connection
    error, so the worker exited ("Unrecoverable error"). The same happened to the late ack of a task that finished
    after the outage. Keeping the parameters turns both into connection errors, which Celery rides out. (Celery 5.7
    closes after collecting since celery/celery#10242; kombu detaching the transport under a live channel is the
    same fault as celery/kombu#582.)
    """

    _connection_parameters: Connection | None = None

    @property
    def client(self) -> Connection | None:  # type: ignore[override]
        return self._connection_parameters

    @client.setter
    def client(self, value: Connection | None) -> None:
        if value is not None:
            self._connection_parameters = value


# Every redis:// and rediss:// broker URL of the portal (web, workers, beat, the tests) is served by it.
TRANSPORT_ALIASES.update(redis=f"{__name__}:RedisTransport", rediss=f"{__name__}:RedisTransport")

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


class BeatSendFailure(logging.Filter):
    """Beat logs each send it could not make with its traceback and the whole stack: ~150 lines for every refresher
    every second while the broker is down (4,700 lines in 20 s). When the broker not answering is the reason, one
    line says as much."""

    BROKER_DOWN = (OperationalError, RedisConnectionError, ConnectionError)

    def filter(self, record: logging.LogRecord) -> bool:
        failure = record.exc_info[1] if record.exc_info else None
        if failure is not None and isinstance(failure.__context__, self.BROKER_DOWN):
            record.msg, record.args, record.exc_info, record.exc_text = "Message Error: %s", (failure,), None, None
        return True


@beat_init.connect
def _beat_send_failures_in_one_line(**kwargs: object) -> None:
    logging.getLogger("celery.beat").addFilter(BeatSendFailure())
