import gc
import logging
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

application = get_wsgi_application()

from portal.aws.clients import aws_runtime  # noqa: E402 (after Django is set up)

logger = logging.getLogger(__name__)

# The AWS clients a web process calls with while someone waits: (service, mutating). The PSTN handler creates a
# caller's attendee while the SIP media application waits (PSTN_ATTENDEE_TIMEOUT_SECONDS); capture pages sign their
# download links with the S3 client.
WEB_PROCESS_CLIENTS = (("chime-sdk-meetings", True), ("s3", False))


def web_process_ready() -> None:
    """Called once in each web worker process after its fork (gunicorn.conf.py's post_worker_init). Imports every
    view now rather than at the first request, opens the AWS clients of WEB_PROCESS_CLIENTS on the process's AWS loop
    (opening one costs ~100 ms of CPU, which the first CreateAttendee would otherwise spend inside the caller's wait),
    then moves what the process holds after start-up out of the garbage collector's sight (`gc.freeze`): a full
    collection walks only what the process made since (what requests keep), at most ~45 ms instead of ~250 ms with
    Django and every view in the heap (bench/sma_handler.py: the SMA handler's p99 must stay within 50 ms)."""
    get_resolver().url_patterns  # noqa: B018 (imports the URLconf and every view module)
    try:
        aws_runtime().clients_open(WEB_PROCESS_CLIENTS)
    except Exception as error:  # a web process serves its pages without AWS: the first call opens its client then
        logger.warning("AWS clients not opened at start (%s): the first call of each opens it", error)
    gc.freeze()
