"""When status callbacks reach the app: in order, or as the real network may.

Twilio does not promise the order in which status callbacks arrive, and a
callback it retries arrives twice (docs/reference.md, How Twilio behaves). :class:`Delivery`
either sends each callback the moment it happens, or — given a seed — holds
a call's callbacks until the call ends and then sends them in a shuffled
order with some of them repeated. The seed makes the disorder the same on
every run, so a scenario that uses it fails or passes reproducibly.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Callback:
    """One status callback as Twilio would send it."""

    method: str
    url: str
    params: dict[str, str]


Send = Callable[[Callback], None]


@dataclass
class Delivery:
    """Sends status callbacks in order (``seed`` None) or shuffled and repeated.

    ``repeats`` callbacks, chosen by the seed, are sent a second time.
    """

    seed: int | None = None
    repeats: int = 2
    _held: list[Callback] = field(default_factory=list, init=False, repr=False)

    @property
    def in_order(self) -> bool:
        return self.seed is None

    def post(self, callback: Callback, send: Send) -> None:
        """Send ``callback`` now, or hold it until :meth:`flush` when disordered."""
        if self.in_order:
            send(callback)
        else:
            self._held.append(callback)

    def flush(self, send: Send) -> list[Callback]:
        """Send every held callback, shuffled and with repeats; return them as sent."""
        held, self._held = self._held, []
        if not held:
            return []
        rng = random.Random(self.seed)  # noqa: S311 - reproducible disorder, not secrecy
        order = held + rng.sample(held, min(self.repeats, len(held)))
        rng.shuffle(order)
        for callback in order:
            send(callback)
        return order
