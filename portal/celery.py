import os
import signal

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def pool_child_ignores_sigterm(**kwargs: object) -> None:
    """Leave stopping to the worker's main process.

    honcho (like supervisord's stopasgroup) sends SIGTERM to a worker's whole process group. A pool child killed by
    it can die holding billiard's queue lock, and the main process then hangs at exit. Ignoring it, the child finishes
    its task and exits when the main process's warm shutdown closes the pool; hard time limits still SIGKILL it.
    """
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
