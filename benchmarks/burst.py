"""``python -m benchmarks.burst``: drain the app's queue with one RQ
``SimpleWorker`` in burst mode and print how long it took, as JSON.

Run as its own process with the app's environment (benchmarks.config), so
the worker builds its services exactly as ``python -m worker`` does.
"""

from __future__ import annotations

import json
import sys
import time

from rq import Queue, SimpleWorker
from rq.registry import FailedJobRegistry

from core.queue import QUEUE_NAME, RedisQueue
from core.services import bound
from worker.__main__ import services_from_environment


def main() -> int:
    svc = services_from_environment()
    assert isinstance(svc.queue, RedisQueue), "REDIS_URL must be set"
    queue = Queue(QUEUE_NAME, connection=svc.queue.redis)
    before = queue.count
    worker = SimpleWorker([queue], connection=svc.queue.redis)
    started = time.perf_counter()
    with bound(svc):
        worker.work(burst=True, logging_level="WARNING")
    seconds = time.perf_counter() - started
    failed = FailedJobRegistry(queue=queue).count
    print(json.dumps({"jobs": before, "seconds": seconds, "failed": failed, "left": queue.count}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
