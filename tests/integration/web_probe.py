"""The web process's application with one more path, /_probe/aws-clients, answering which AWS clients the worker
process holds: how tests/integration/test_web_server.py asks a real gunicorn worker started from gunicorn.conf.py."""

import json
from collections.abc import Callable, Iterable
from typing import Any

from portal.aws.clients import aws_runtime
from portal.wsgi import application as portal_application


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["PATH_INFO"] != "/_probe/aws-clients":
        return portal_application(environ, start_response)
    body = json.dumps(sorted(aws_runtime().clients_held())).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
