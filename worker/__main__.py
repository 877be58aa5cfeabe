"""``python -m worker``: an RQ worker with its scheduler on the app's queue."""

from __future__ import annotations

import os
import sys

from rq import Worker

from worker import services
from worker.queue import QUEUE_NAME, RedisQueue


def main() -> int:
    svc = services.current()
    if not isinstance(svc.queue, RedisQueue):
        print("REDIS_URL is not set: jobs run inside the web process; no worker needed.", file=sys.stderr)
        return 2
    worker = Worker([QUEUE_NAME], connection=svc.queue.redis, name=f"safety-{os.getpid()}")
    # The scheduler runs retries with backoff and scheduled jobs.
    worker.work(with_scheduler=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
