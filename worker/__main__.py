"""``python -m worker``: the Procfile's worker process.

A supervisor and one child. The child is an RQ worker on the app's queue
with RQ's scheduler (retries with backoff and the periodic jobs of
worker/schedule.py need it) that runs every job in its own process, no fork
per job: forking a work horse cost about 40 ms a job, ten times the job
(BENCHMARKS.md, "Workers"), and its database connections are kept from one
job to the next. What the fork protected against is handled otherwise: a
job that hangs is stopped by RQ's job timeout (SIGALRM in the child); a
child that leaks is replaced after :data:`RECYCLE_AFTER_JOBS` jobs; a child
that dies (a crash, the OOM killer) is started again by the supervisor,
and RQ moves the job it held back to the queue once its heartbeat expires.

SIGTERM (what a platform sends to stop or redeploy) is passed to the child:
RQ's warm shutdown, the current job finishes, then both exit. A worker killed outright (SIGKILL, a lost
machine) leaves its job in RQ's started registry; once its heartbeat
expires, any worker's maintenance moves it back for a retry, and every job
here is idempotent, so the re-run completes the work once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

from rq import SimpleWorker

from core.queue import QUEUE_NAME, RedisQueue
from core.services import Services, bound, build_services
from core.settings import load_settings
from worker.schedule import SchedulingWorker, ensure_scheduled, periods

# How often a worker runs RQ's maintenance (among other things, moving the
# jobs of a dead worker back to the queue). RQ's default is ten minutes: a
# report's hand-off or a call-log update stranded by a killed worker would
# wait that long. A minute costs a few Redis commands.
MAINTENANCE_SECONDS = 60
# Jobs a child runs before it exits and the supervisor starts a fresh one:
# whatever a job leaks (memory, a file handle) lasts this long at most.
RECYCLE_AFTER_JOBS = 5000
CHILD_FLAG = "--child"
RESTART_DELAYS = (1, 2, 5, 10, 30)  # seconds before restarting a child that died, by failures in a row
log = logging.getLogger("worker")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    return serve() if CHILD_FLAG in args else supervise()


def supervise() -> int:
    """Run the worker as a child; start it again whenever it exits before
    this process is told to stop."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stopping: list[int] = []
    child: subprocess.Popen[bytes] | None = None

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    failures = 0
    while not stopping:
        # Its own process group, so that whatever it started (RQ's scheduler
        # runs in a process of its own) goes with it when it dies.
        child = subprocess.Popen(  # noqa: S603 - ourselves
            [sys.executable, "-m", "worker", CHILD_FLAG], start_new_session=True
        )
        code = child.wait()
        _end_group(child.pid)
        if stopping:
            # Ended by the signal passed on: a clean stop, whether RQ's
            # warm shutdown or the signal itself ended it (a child still
            # starting up, e.g. just replaced, has no handler yet).
            return 0 if code in (0, -stopping[0]) else code
        if code == 2:  # nothing to do (no Redis): the child said why
            return code
        if code == 0:
            failures = 0  # recycled after its jobs: start a fresh one at once
            continue
        delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]
        failures += 1
        log.error("worker child exited with %s; starting another in %s s", code, delay)
        time.sleep(delay)
    return 0


def _end_group(group: int) -> None:
    """SIGKILL what is left of a child's process group (a crashed child's
    scheduler would otherwise live on, orphaned, holding the scheduler lock)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


def serve() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Request bodies sent to Twilio may carry numbers; never log them.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    svc = services_from_environment()
    if not isinstance(svc.queue, RedisQueue):
        print("REDIS_URL is not set: jobs run inside the web process; no worker needed.", file=sys.stderr)
        return 2
    ensure_scheduled(svc.queue.rq, schedule=periods(svc.settings))
    with bound(svc):
        build_worker(svc.queue).work(with_scheduler=True, max_jobs=RECYCLE_AFTER_JOBS)
    return 0


def services_from_environment() -> Services:
    """This process's services, from the same settings the web app reads."""
    instance = os.path.abspath(os.environ.get("SAFETY_INSTANCE_PATH") or "instance")
    return build_services(load_settings(os.environ, instance))


def build_worker(queue: RedisQueue) -> SimpleWorker:
    return SchedulingWorker(
        [QUEUE_NAME],
        connection=queue.redis,
        name=f"safety-{socket.gethostname()}-{os.getpid()}",
        maintenance_interval=MAINTENANCE_SECONDS,
    )


if __name__ == "__main__":
    raise SystemExit(main())
