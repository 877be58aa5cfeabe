"""Members enrolled the way the app enrols them (``storage.repositories``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from argon2 import PasswordHasher

from callflows.status import LineKind
from storage import hashing
from storage import repositories as repo
from storage.db import Database
from storage.vault import NumberVault

MEMBER_PHONE = "+442079460123"
LINE = "+442079460001"
PIN = "4821"
# The members' access line of the suite (through which members reach their menu).
ACCESS_LINE = "+442079460900"

# Argon2id with the smallest cost: the app checks such a hash exactly like a
# real one (the parameters travel in the hash), but in milliseconds.
_CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@contextmanager
def cheap_hashing() -> Iterator[None]:
    """PINs and passwords hashed at the smallest Argon2 cost while seeding."""
    real = hashing._hasher
    hashing._hasher = _CHEAP_HASHER
    try:
        yield
    finally:
        hashing._hasher = real


@dataclass(frozen=True)
class EnrolledMember:
    """An active member: their real phone, their Safety Number and PIN."""

    id: int
    phone: str
    line: str
    line_id: int
    pin: str


class Enrol(Protocol):
    """The ``enrol`` fixture: enrol one more member."""

    def __call__(
        self,
        *,
        phone: str = ...,
        line: str = ...,
        pin: str = ...,
        name: str = ...,
        **preferences: Any,
    ) -> EnrolledMember: ...


def enrol(
    db: Database,
    vault: NumberVault,
    *,
    phone: str = MEMBER_PHONE,
    line: str = LINE,
    pin: str = PIN,
    name: str = "Test member",
    **preferences: Any,
) -> EnrolledMember:
    """Enrol a member on ``phone`` through ``repositories.enrol_member``; committed.

    ``line`` is added to the pool when it is not there and must be the free
    line enrolment assigns. ``preferences`` set Member columns afterwards
    (``greeting``, ``accept_withheld``, ``caller_id_shown``, ``language`` ...).
    """
    with cheap_hashing(), db.session() as session:
        if repo.line_by_number(session, line) is None:
            repo.add_numbers(session, [line])
        member, assigned = repo.enrol_member(session, vault, name=name, phone_e164=phone, pin=pin)
        assert assigned.e164 == line, f"enrolment took {assigned.e164}: add {line} before other free lines"
        for column, value in preferences.items():
            assert hasattr(member, column), column
            setattr(member, column, value)
        session.flush()
        return EnrolledMember(member.id, phone, line, assigned.id, pin)


def national(e164: str) -> str:
    """A UK number as a member keys it: ``+442079460001`` -> ``02079460001``."""
    assert e164.startswith("+44"), e164
    return "0" + e164[3:]


def add_access_line(db: Database, line: str = ACCESS_LINE) -> str:
    """Add ``line`` to the pool as a members' access line (once); committed."""
    with db.session() as session:
        if repo.line_by_number(session, line) is None:
            repo.add_numbers(session, [line], LineKind.ACCESS)
    return line
