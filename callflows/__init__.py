"""The domain core: what the service decides and says, with no I/O.

The rule of the layers, enforced by ``tests/test_layers.py``:

- ``callflows`` imports no other package of this project and neither Flask
  nor SQLAlchemy: it is plain functions and values (phonenumbers for phone
  numbers and twilio's ``VoiceResponse`` for TwiML are its only libraries).
- ``storage`` and ``worker`` may import it, and do, for what the whole
  service shares; the web app (``ivr``) imports it for the flows.

Its modules:

- ``errors``: the domain errors, each named for what went wrong;
- ``phone``: the one door numbers come in by (E.164, withheld callers);
- ``sanitise``: free text made safe to store and to speak;
- ``status``: the states and kinds of members, lines, calls, reports,
  recordings and staff, and the categories of warnings;
- ``lockout``: the policy that locks the member menu after wrong PINs and
  the staff console after wrong passwords;
- ``inbound``, ``menu``, ``report``, ``destinations``, ``prompts``: the
  call flows — typed facts in, a decision or a ``VoiceResponse`` out.
"""
