"""``python -m worker``: the Procfile's worker process.

An RQ worker on the app's queue with RQ's scheduler (retries with backoff
and the periodic jobs of worker/schedule.py need it). SIGTERM (what a
platform sends to stop or redeploy) is RQ's warm shutdown: the current job
finishes, then the worker exits. A worker killed outright (SIGKILL, a lost
machine) leaves its job in RQ's started registry; once its heartbeat
expires, any worker's maintenance moves it back for a retry, and every job
here is idempotent, so the re-run completes the work once.
"""

from __future__ import annotations

import logging
import os
import socket
import sys

from rq import Worker

from core.queue import QUEUE_NAME, RedisQueue
from core.services import Services, bound, build_services
from core.settings import load_settings
from worker.schedule import SchedulingWorker, ensure_scheduled, periods

# How often a worker runs RQ's maintenance (among other things, moving the
# jobs of a dead worker back to the queue). RQ's default is ten minutes: a
# report's hand-off or a call-log update stranded by a killed worker would
# wait that long. A minute costs a few Redis commands.
MAINTENANCE_SECONDS = 60


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Request bodies sent to Twilio may carry numbers; never log them.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    svc = services_from_environment()
    if not isinstance(svc.queue, RedisQueue):
        print("REDIS_URL is not set: jobs run inside the web process; no worker needed.", file=sys.stderr)
        return 2
    ensure_scheduled(svc.queue.rq, schedule=periods(svc.settings))
    # Each job runs in a forked work horse: no database connection may be
    # shared across the fork.
    svc.db.engine.dispose()
    # The horses inherit the binding: every job of this worker finds ``svc``.
    with bound(svc):
        build_worker(svc.queue).work(with_scheduler=True)
    return 0


def services_from_environment() -> Services:
    """This process's services, from the same settings the web app reads."""
    instance = os.path.abspath(os.environ.get("SAFETY_INSTANCE_PATH") or "instance")
    return build_services(load_settings(os.environ, instance))


def build_worker(queue: RedisQueue) -> Worker:
    return SchedulingWorker(
        [QUEUE_NAME],
        connection=queue.redis,
        name=f"safety-{socket.gethostname()}-{os.getpid()}",
        maintenance_interval=MAINTENANCE_SECONDS,
    )


if __name__ == "__main__":
    raise SystemExit(main())
