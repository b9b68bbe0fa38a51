"""The channel pages at 10,000 channels: SQL queries and p95 server time per page (PostgreSQL).

    .venv/bin/python bench/channel_list.py [--channels 10000] [--requests 40]

Prints, for 10 and for N channels, each page's query count (it must not grow with rows) and the median and p95 time
the server took to answer it (the Django test client, in this process), and how many rows each filter matched.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from harness import bench_estate, percentile


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    os.environ["ALLOWED_HOSTS"] = "testserver"  # the test client's host; read when settings load
    with bench_estate("channel_list"):
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from portal.channels.filters import ChannelFilter
        from portal.channels.models import Channel
        from portal.core.roles import Role
        from tests.factories import PASSWORD, ChannelFactory, UserFactory

        UserFactory(username="viewer", role=Role.VIEWER)
        client = Client()
        client.login(username="viewer", password=PASSWORD)
        statuses = ["active"] * 8 + ["creating", "deleted"]
        print(f"{'page':<34}{'channels':>9}{'queries':>9}{'median ms':>11}{'p95 ms':>9}")
        for count in (10, args.channels):
            Channel.objects.all().delete()
            Channel.objects.bulk_create(
                ChannelFactory.build(name=f"cam-{n:05d}", status=statuses[n % 10],
                                     tags={"site": f"site-{n % 20}", "fleet": "bench"},
                                     endpoints={"MASTER": {"WSS": "wss://m-x", "HTTPS": "https://r-x"}})
                for n in range(count)
            )  # fmt: skip
            last = Channel.objects.order_by("pk").last()
            pages = (
                ("list", "/channels/", {}),
                ("list, name prefix cam-001", "/channels/?prefix=cam-001", {}),
                ("list, status creating", "/channels/?status=creating", {}),
                ("list, tag site=site-3", "/channels/?tag=site%3Dsite-3", {}),
                ("list, page 100", "/channels/?page=100", {}),
                ("list table (htmx poll)", "/channels/", {"HX-Request": "true"}),
                ("channel detail", f"/channels/{last.pk}/", {}),
                ("overview", "/", {}),
            )
            for label, path, headers in pages:
                connection.queries_log.clear()  # a full log (it keeps 9,000) would count nothing new
                with CaptureQueriesContext(connection) as captured:
                    response = client.get(path, headers=headers)
                queries = len(captured)
                assert response.status_code in (200, 286), (path, response.status_code)
                times = []
                for _ in range(args.requests):
                    started = time.perf_counter()
                    client.get(path, headers=headers)
                    times.append((time.perf_counter() - started) * 1000)
                print(f"{label:<34}{count:>9}{queries:>9}{statistics.median(times):>11.1f}"
                      f"{percentile(times, 0.95):>9.1f}")  # fmt: skip
            for query in ({"prefix": "cam-001"}, {"status": "creating"}, {"tag": "site=site-3"}):
                matched = ChannelFilter(query, queryset=Channel.objects.all()).qs.count()
                print(f"  {query} matched {matched} of {count}")


if __name__ == "__main__":
    main()
