"""Ringing for events once the answer has gone out.

A webhook whose answer must not wait for its jobs (the check-in call's
duress PIN: "checked in" the same, in the same time, as the real PIN)
writes their events in its transaction and rings here. The ring runs when
the WSGI server closes the response, after its bytes were sent; in embedded
mode that is where the in-process queue runs the jobs. A ring that never
happens (the process dies first) loses nothing: the events sweep rings for
every event not done.
"""

from __future__ import annotations

from flask import Response, after_this_request

from ivr.services import current_services


def ring_after_response(event_ids: list[int]) -> None:
    """Ring for ``event_ids`` (committed already) once this request's response is closed."""
    if not event_ids:
        return
    queue = current_services().queue

    def ring_all() -> None:
        for event_id in event_ids:
            queue.ring(event_id)

    @after_this_request
    def ring_when_closed(response: Response) -> Response:
        response.call_on_close(ring_all)
        return response
