"""Benchmarks and long fault drills of Safety Number (issue 7).

Run them all with ``bash benchmarks/run.sh``; results go to ``BENCHMARKS.md``.
Nothing here is part of the test suite: the load runs take minutes and only
ever talk to servers on 127.0.0.1.
"""
