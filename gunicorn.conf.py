"""gunicorn's settings for the web process, wherever it runs (Procfile, compose.yaml, Dockerfile)."""

import os

# The views are synchronous Django, so WSGI under process workers: one per CPU keeps every core busy rendering.
workers = int(os.environ.get("WEB_CONCURRENCY") or len(os.sched_getaffinity(0)))
# No runtime control socket: it would be one path ($HOME/.gunicorn/gunicorn.ctl) for every gunicorn of the user.
control_socket_disable = True
