"""The one place that talks to Twilio's REST and media API.

Everything goes through the twilio library, with the origin taken from
``TWILIO_API_BASE_URL`` (docs/reference.md): :class:`RebasedHttpClient` rewrites
``https://api.twilio.com`` (and any other ``*.twilio.com`` API host) to that
origin, so tests and the simulator point the whole adapter at a local fake.
Media downloads use HTTP basic auth with the account's credentials, as
Twilio's "Enforce HTTP Auth on Media URLs" requires.

Errors: a 404 becomes :class:`TwilioResourceGone`; anything else that went
wrong on the wire (5xx, timeouts, refused connections) becomes
:class:`TwilioUnavailable`, which jobs let reach RQ so it retries. Messages
carry SIDs at most, never a phone number.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from callflows.errors import TwilioResourceGone, TwilioUnavailable

if TYPE_CHECKING:
    from core.settings import Settings

TWILIO_ORIGIN = "https://api.twilio.com"
# The twilio library logs request bodies (PhoneNumber=…) at INFO: keep this
# logger at WARNING whatever the root logger says.
_http_log = logging.getLogger("worker.twilio_http")
_http_log.setLevel(logging.WARNING)

# SIDs end up in URL paths: accept only their documented shape.
_SID = re.compile(r"^[A-Z]{2}[A-Za-z0-9]{1,64}$")


def is_call_sid(value: str) -> bool:
    """Whether ``value`` has the documented shape of a CallSid."""
    return value.startswith("CA") and bool(_SID.match(value))


def _sid(value: str, prefix: str) -> str:
    if not (value.startswith(prefix) and _SID.match(value)):
        raise ValueError(f"not a {prefix} SID")
    return value


# docs/reference.md: the webhooks the app serves on every Safety Number (Twilio
# setting -> path). The fourth, the fallback, is Settings.voice_fallback_url:
# best on separate hosting, so it still answers when the app is down.
WEBHOOK_PATHS = {
    "voice_url": "/voice/incoming",
    "status_callback": "/voice/status",
    "sms_url": "/sms/incoming",
}


def webhook_urls(public_base_url: str, voice_fallback_url: str) -> dict[str, str]:
    """The four webhook URLs of docs/reference.md: the app's under ``public_base_url``,
    and the "primary handler fails" URL as given."""
    base = public_base_url.rstrip("/")
    urls = {name: base + path for name, path in WEBHOOK_PATHS.items()}
    return {**urls, "voice_fallback_url": voice_fallback_url}


def _webhook_params(urls: Mapping[str, str]) -> dict[str, str]:
    """Keyword arguments of the twilio library for the four webhooks, all POST."""
    return {
        "voice_url": urls["voice_url"],
        "voice_method": "POST",
        "status_callback": urls["status_callback"],
        "status_callback_method": "POST",
        "voice_fallback_url": urls["voice_fallback_url"],
        "voice_fallback_method": "POST",
        "sms_url": urls["sms_url"],
        "sms_method": "POST",
    }


def rebase(url: str, origin: str) -> str:
    """``url`` with a Twilio API origin replaced by ``origin``; other URLs unchanged."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and (host == "twilio.com" or host.endswith(".twilio.com")):
        rest = url[len(f"{parts.scheme}://{parts.netloc}") :]
        return origin.rstrip("/") + rest
    return url


class RebasedHttpClient(TwilioHttpClient):
    """The twilio library's HTTP client, sending every request to ``origin``."""

    def __init__(self, origin: str, timeout: float) -> None:
        super().__init__(timeout=timeout, logger=_http_log)
        self.origin = origin.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        # Only the origin changes; every other argument reaches the library as given.
        return super().request(method, rebase(url, self.origin), *args, **kwargs)


@dataclass(frozen=True)
class BoughtNumber:
    sid: str
    e164: str


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """Turn the library's and requests' errors into our two domain errors."""
    try:
        yield
    except TwilioRestException as exc:
        if exc.status == 404:
            raise TwilioResourceGone(f"{what}: not found at Twilio") from None
        raise TwilioUnavailable(f"{what}: Twilio answered {exc.status}") from None
    except (requests.RequestException, TwilioException) as exc:
        raise TwilioUnavailable(f"{what}: {type(exc).__name__}") from None


class TwilioAdapter:
    """Recordings, call records, placed calls and phone numbers of one Twilio account."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        api_base_url: str = TWILIO_ORIGIN,
        timeout: float = 10.0,
    ) -> None:
        self.account_sid = account_sid
        self.origin = (api_base_url or TWILIO_ORIGIN).rstrip("/")
        self.timeout = timeout
        self._auth = (account_sid, auth_token)
        self.client = Client(account_sid, auth_token, http_client=RebasedHttpClient(self.origin, timeout))
        self._media = requests.Session()

    @classmethod
    def from_settings(cls, settings: Settings, timeout: float = 10.0) -> TwilioAdapter:
        return cls(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.twilio_api_base_url,
            timeout=timeout,
        )

    # --- recordings -------------------------------------------------------------

    def recording_media_url(self, recording_sid: str) -> str:
        """Where the recording's audio is served (under our configured origin)."""
        sid = _sid(recording_sid, "RE")
        return f"{self.origin}/2010-04-01/Accounts/{self.account_sid}/Recordings/{sid}"

    def resolve_recording_url(self, recording_url: str) -> str:
        """A RecordingUrl as Twilio sent it, resolved against TWILIO_API_BASE_URL.

        Only URLs of this account's recordings are accepted, so a forged
        callback cannot make the worker fetch anything else with our
        credentials.
        """
        path = urlsplit(rebase(recording_url, self.origin)).path
        prefix = f"/2010-04-01/Accounts/{self.account_sid}/Recordings/"
        if not path.startswith(prefix):
            raise ValueError("not a recording of this Twilio account")
        return self.origin + path

    def fetch_recording(self, recording_sid: str, fmt: str = "wav") -> bytes:
        """Download the audio with HTTP basic auth; raise if incomplete."""
        url = f"{self.recording_media_url(recording_sid)}.{fmt}"
        with _translated(f"recording {recording_sid}"):
            response = self._media.get(url, auth=self._auth, timeout=self.timeout)
            if response.status_code == 404:
                raise TwilioResourceGone(f"recording {recording_sid}: not found at Twilio")
            if response.status_code != 200:
                raise TwilioUnavailable(f"recording {recording_sid}: Twilio answered {response.status_code}")
            audio = response.content
        expected = response.headers.get("Content-Length")
        if not audio or (expected is not None and int(expected) != len(audio)):
            raise TwilioUnavailable(f"recording {recording_sid}: incomplete download")
        return audio

    def recording_seconds(self, recording_sid: str) -> int | None:
        """The recording's duration according to Twilio, if it says."""
        with _translated(f"recording {recording_sid}"):
            account = self.client.api.v2010.accounts(self.account_sid)
            recording = account.recordings(_sid(recording_sid, "RE")).fetch()
        duration: Any = recording.duration
        try:
            return int(duration) if duration is not None else None
        except ValueError:
            return None

    def delete_recording(self, recording_sid: str) -> bool:
        """Delete it at Twilio; False when it was already gone."""
        try:
            with _translated(f"recording {recording_sid}"):
                account = self.client.api.v2010.accounts(self.account_sid)
                account.recordings(_sid(recording_sid, "RE")).delete()
        except TwilioResourceGone:
            return False
        return True

    # --- call records -------------------------------------------------------------

    def call_recordings(self, call_sid: str) -> list[str]:
        """The RecordingSids Twilio holds for one call."""
        with _translated(f"recordings of call {call_sid}"):
            account = self.client.api.v2010.accounts(self.account_sid)
            found = account.recordings.list(call_sid=_sid(call_sid, "CA"))
        return [str(recording.sid) for recording in found]

    def delete_call(self, call_sid: str) -> bool:
        """Delete a call record at Twilio; False when it was already gone."""
        try:
            with _translated(f"call {call_sid}"):
                self.client.api.v2010.accounts(self.account_sid).calls(_sid(call_sid, "CA")).delete()
        except TwilioResourceGone:
            return False
        return True

    def place_call(
        self,
        *,
        to: str,
        from_: str,
        url: str,
        status_callback: str,
        timeout: int,
        detect_machine: bool = False,
    ) -> str:
        """Ask Twilio to ring ``to`` showing ``from_`` (a number of this
        account) and, once answered, fetch its TwiML from ``url``; the new
        leg's CallSid. Status callbacks of every step go to ``status_callback``.
        ``url`` and ``status_callback`` carry ids only: Twilio keeps them.

        With ``detect_machine`` Twilio's answering machine detection runs and
        ``url`` receives ``AnsweredBy`` (human, machine_start, fax, unknown …).
        """
        options: dict[str, Any] = {"machine_detection": "Enable"} if detect_machine else {}
        with _translated("placing a call"):
            call = self.client.api.v2010.accounts(self.account_sid).calls.create(
                to=to,
                from_=from_,
                url=url,
                method="POST",
                status_callback=status_callback,
                status_callback_event=["initiated", "ringing", "answered", "completed"],
                status_callback_method="POST",
                timeout=timeout,
                **options,
            )
        return _sid(str(call.sid), "CA")

    # --- phone numbers --------------------------------------------------------------

    def buy_number(
        self, area_code: str, public_base_url: str, voice_fallback_url: str, country: str = "GB"
    ) -> BoughtNumber:
        """Buy the first local number on offer in ``area_code``, webhooks already set."""
        account = self.client.api.v2010.accounts(self.account_sid)
        with _translated(f"numbers in area {area_code}"):
            offer = account.available_phone_numbers(country).local.list(area_code=area_code, limit=1)
        if not offer:
            raise TwilioResourceGone(f"Twilio offers no number in area code {area_code}")
        with _translated("buying a number"):
            bought = account.incoming_phone_numbers.create(
                phone_number=offer[0].phone_number,
                **_webhook_params(webhook_urls(public_base_url, voice_fallback_url)),
            )
        return BoughtNumber(sid=str(bought.sid), e164=str(bought.phone_number))

    def configure_number(self, e164: str, public_base_url: str, voice_fallback_url: str) -> str:
        """Set the four webhooks of docs/reference.md on an owned number; return its PN sid."""
        account = self.client.api.v2010.accounts(self.account_sid)
        with _translated("looking up a pool number"):
            found = account.incoming_phone_numbers.list(phone_number=e164, limit=1)
        if not found:
            raise TwilioResourceGone("a pool number is not on this Twilio account")
        sid = str(found[0].sid)
        with _translated("configuring a pool number"):
            account.incoming_phone_numbers(sid).update(
                **_webhook_params(webhook_urls(public_base_url, voice_fallback_url))
            )
        return sid


def adapter_for(settings: Settings) -> TwilioAdapter:
    """The adapter of this process's settings."""
    return TwilioAdapter.from_settings(settings)
