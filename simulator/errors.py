"""What the simulator raises, named for what went wrong.

They share :class:`SimulatorError`, not the service's own error base: a
simulator error is a fault in the app under test, in a scenario or in what
someone typed at the simulator, never an error of the service itself, so no
``except SafetyNumberError`` in the service may ever swallow one.
"""

from __future__ import annotations


class SimulatorError(Exception):
    """Base of every error the simulator raises on purpose."""


class SimulationError(SimulatorError):
    """The app did something Twilio would report as an error (strict mode)."""


class TwimlRejected(SimulatorError):
    """The app answered with TwiML that Twilio would refuse."""


class NotSimulated(TwimlRejected):
    """Valid TwiML that this simulator does not play."""


class OutsideTheApp(SimulatorError, ValueError):
    """TwiML pointed Twilio at a URL that is not under ``PUBLIC_BASE_URL``."""


class WebhookUnreachable(SimulatorError):
    """No answer came from the app: connection refused, reset or timed out."""


class ScriptError(SimulatorError, ValueError):
    """A keypress script that cannot be understood."""


class ScenarioError(SimulatorError, ValueError):
    """A scenario file that cannot be understood."""


class JobFailed(SimulatorError):
    """A background job the simulated calls queued did not succeed."""


class ConsoleCheckFailed(SimulatorError):
    """The staff console did not show a report with playable audio."""
