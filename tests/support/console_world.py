"""A console with something on every page: staff of both roles, a member
with a fortnight of calls, reports (one with a recording, assigned to the
caseworker), a warning, a risk signal, a check-in alarm, a call-back
request and a failed job. For tests that open every page
(``tests/support/console_pages.py``)."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from callflows.status import AlarmKind, LineKind
from core.services import bound, recording_store
from ivr import services_of
from storage import callback_requests, checkins
from storage import repositories as repo
from storage.events import MAX_ATTEMPTS
from storage.models import Event, Report, utcnow
from tests.staff.helpers import PASSWORD, wav_bytes
from tests.support.call_rows import inbound_call
from tests.support.people import cheap_hashing
from worker.signals import compute_signals

ADMIN_EMAIL, CASEWORKER_EMAIL = "admin@example.org", "case@example.org"
CALLER, SIGNALLED = "+447911654321", "+447911555246"


def seed_console(app: Flask) -> dict[str, int]:
    """Fill the app's (empty, committed) database; the ids the page paths name."""
    services = services_of(app)
    vault, now = services.vault, utcnow()
    key = recording_store(services).put("RE_console_world", wav_bytes(2.0))
    with cheap_hashing(), services.db.session() as s:
        repo.add_staff(s, email=ADMIN_EMAIL, password=PASSWORD, role="admin")
        case = repo.add_staff(s, email=CASEWORKER_EMAIL, password=PASSWORD, role="caseworker")
        repo.add_numbers(s, [f"+4420794600{k:02d}" for k in range(1, 5)])
        repo.add_numbers(s, ["+442079460900"], kind=LineKind.ACCESS)
        members = [
            repo.enrol_member(s, vault, name=name, phone_e164=f"+4479111234{k:02d}", pin="4821")[0]
            for k, name in enumerate(("Ruby", "Jade", "Opal"))
        ]
        ruby = members[0]
        caller = vault.protect(CALLER)
        calls = [
            inbound_call(
                f"CAworld{day:03d}{i:03d}",
                ruby.id,
                caller,
                created_at=now - timedelta(days=day, minutes=i + 5),
                bridged=i % 2 == 0,
                declined=i == 1,
                warned=i == 2,
            )
            for day in range(14)
            for i in range(day % 4 + 1)
        ]
        s.add_all(calls)
        # Declined by every member: enough for a risk signal.
        signalled = vault.protect(SIGNALLED)
        for k, member in enumerate(members):
            at = now - timedelta(hours=k + 1)
            s.add(inbound_call(f"CAworldsignal{k}", member.id, signalled, created_at=at, declined=True))
        s.flush()
        report = Report(
            member_id=ruby.id,
            call_id=calls[0].id,
            caller_index=caller.index,
            caseworker_id=case.id,
            status="assigned",
            recording_state="stored",
            recording_path=key,
            recording_seconds=2,
            police_consent=True,
            category="threats",
            notes="Seen twice this week.",
            created_at=now - timedelta(hours=1),
        )
        s.add(report)
        s.add_all(
            Report(member_id=ruby.id, status="new", recording_state=state, created_at=now - timedelta(days=d))
            for d, state in ((2, "awaited"), (3, "failed"))
        )
        s.flush()
        warning = repo.add_warning(
            s,
            caller_index=caller.index,
            category="threats",
            summary="Threatens when refused",
            report_id=report.id,
        )
        s.add(
            Event(
                job="assign_report",
                args=[report.id],
                due_at=now,
                attempts=MAX_ATTEMPTS,
                last_error="SMTPAuthenticationError",
                failed_at=now,
            )
        )
        checkin = checkins.start_checkin(s, members[1], 60, now - timedelta(hours=2))
        alarm = checkins.raise_alarm(s, checkin, AlarmKind.MISSED, now - timedelta(minutes=30))
        assert alarm is not None
        callback_requests.ask(s, members[2].id, now - timedelta(minutes=10))
        facts = {
            "report_id": report.id,
            "warning_id": warning.id,
            "alarm_id": alarm.id,
            "member_id": ruby.id,
            "caseworker_id": case.id,
        }
    with bound(services):
        raised = compute_signals().raised
    assert raised, "the seeded declines should raise a risk signal"
    return {**facts, "signal_id": raised[0]}
