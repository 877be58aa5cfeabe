# gunicorn reads this file from its working directory: the Procfile's `web`
# process and the benchmarks' servers (the app and the bare baseline alike)
# both run from the repository root.

# One listening socket per worker process, so the kernel spreads connections
# evenly across them: with a shared socket whichever process woke first took
# more of the long-lived (keep-alive) connections, and its callers waited
# longer (BENCHMARKS.md, "Why these gunicorn settings").
reuse_port = True

from ivr.server import on_starting, post_worker_init  # noqa: E402, F401
