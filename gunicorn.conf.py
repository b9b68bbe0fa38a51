"""gunicorn's settings for the web process, wherever it runs (Procfile, compose.yaml, Dockerfile)."""

import os

from portal.core.addresses import proxies_parse

# Process workers, one per CPU, each with a pool of threads (gthread). A sync worker is held by each connection it
# accepts until that connection's request has arrived, so two idle pre-connections from a browser starved the whole
# tier. A gthread worker gives a new connection a thread for at most 5 s to send its request, then keeps it in its
# poller, as it keeps kept-alive ones: only a request being read or answered holds a thread. The threads are many
# because a fresh connection, or a client that sends its request slowly, holds one meanwhile; a thread waiting on a
# socket costs no CPU (bench/web_idle_clients.py: with 50 idle and 50 slow-body clients
# held open, the stage list's p99 stays within about 1-2x of its unloaded p99 with no error; sync answered nothing).
# Each process keeps one AWS event loop in a thread of its own for all its threads (portal.aws.clients), and its
# database connections come from its pool (DATABASE_POOL_MAX_SIZE).
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or len(os.sched_getaffinity(0)))
threads = int(os.environ.get("WEB_THREADS") or 128)
# Whom gunicorn believes for the scheme headers (X-Forwarded-Proto): the same TRUSTED_PROXIES the portal takes the
# client's address from (portal.core.addresses), so both trust the same peers; empty: nobody (gunicorn's own default
# would be 127.0.0.1). gunicorn never takes REMOTE_ADDR from X-Forwarded-For itself.
forwarded_allow_ips = ",".join(str(network) for network in proxies_parse(os.environ.get("TRUSTED_PROXIES", "")))
# No runtime control socket: it would be one path ($HOME/.gunicorn/gunicorn.ctl) for every gunicorn of the user.
control_socket_disable = True


def post_worker_init(worker: object) -> None:
    """In each worker, after the fork and the application's import: open what its requests need (portal.wsgi)."""
    from portal.wsgi import web_process_ready

    web_process_ready()
