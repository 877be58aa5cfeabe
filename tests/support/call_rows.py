"""Call rows written straight to the database, for tests that need a call
log without placing the calls."""

from __future__ import annotations

from typing import Any

from storage.models import Call, CallDirection
from storage.vault import ProtectedNumber


def inbound_call(sid: str, member_id: int, caller: ProtectedNumber, **fields: Any) -> Call:
    """A call from ``caller`` to the member's Safety Number, its number kept
    as the inbound webhook keeps it (index, encrypted, last three digits)."""
    return Call(
        call_sid=sid,
        direction=CallDirection.INBOUND,
        member_id=member_id,
        other_party_index=caller.index,
        other_party_encrypted=caller.token,
        other_party_last3=caller.last3,
        **fields,
    )
