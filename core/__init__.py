"""The neutral core both processes stand on: settings, services, the job queue.

The packages depend on each other in one direction only::

    callflows  <-  storage  <-  core  <-  {worker, ivr}

``callflows`` is the domain (pure, no I/O), ``storage`` persists it, ``core``
reads the settings and builds what a request or a job needs, and the web app
(``ivr``) and the worker (``worker``) each build their own ``Services`` from
it. ``worker`` never imports ``ivr``; ``core`` imports neither. The queue
names jobs by dotted path (``worker.calllog.record_call_event``), so enqueuing
work needs no import of the worker.
"""
