"""The world of a masked call from the console: an app whose Twilio REST
API is the local fake, a caseworker with their own phone, a member, a
report assigned to the caseworker, the scheme's access line (in the pool
and on the fake account) and a simulator that plays the calls the app
places (``Simulator.play_placed``)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from flask.testing import FlaskClient

from ivr import services_of
from simulator.engine import CallResult, Simulator
from simulator.fake_twilio import FakeTwilio
from simulator.harness import run_queued_jobs, simulator_for
from simulator.keypad import Callee
from simulator.transcript import Phonebook
from storage.db import Database
from storage.vault import NumberVault
from tests.staff.helpers import make_report, make_staff, post, sign_in_as
from tests.support import people

CASEWORKER_PHONE = "+447911123456"
OTHER_CASEWORKER_PHONE = "+447911123999"


@dataclass
class StaffCallWorld:
    app: Flask
    fake: FakeTwilio
    db: Database
    member: people.EnrolledMember
    caseworker: int  # staff id; the report's caseworker
    other: int  # another caseworker, with a phone, not assigned
    admin: int
    report: int
    access_line: str

    def client(self, staff_id: int) -> FlaskClient:
        return sign_in_as(self.app.test_client(), staff_id)

    def click_call(self, staff_id: int, path: str | None = None) -> str:
        """Press "Call the member" (the report's, unless ``path``); the page shown after."""
        client = self.client(staff_id)
        response = post(client, path or f"/staff/reports/{self.report}/call")
        assert response.status_code in (303, 403, 404), response.status_code
        run_queued_jobs(services_of(self.app))
        if response.status_code != 303:
            return response.get_data(as_text=True)
        return client.get(response.headers["Location"]).get_data(as_text=True)

    def simulator(self) -> Simulator:
        book = Phonebook(
            {
                self.member.phone: "member",
                CASEWORKER_PHONE: "caseworker",
                OTHER_CASEWORKER_PHONE: "caseworker",
                self.access_line: "access line",
            },
            public={self.access_line},
        )
        return simulator_for(self.app, phonebook=book, recordings=self.fake)

    def answer(self, caseworker: str = "1", member: str = "1") -> CallResult:
        """Play the call the app placed: what the caseworker's phone does and
        presses, and what the member's does (Callee scripts: ``1``, ``busy``,
        ``no-answer``, ``failed``, ``none``)."""
        placed = self.fake.next_placed()
        return self.simulator().play_placed(placed, Callee.parse(caseworker), Callee.parse(member))


def build_world(
    app: Flask, fake: FakeTwilio, db: Database, vault: NumberVault, enrol: people.Enrol
) -> StaffCallWorld:
    member = enrol(name="Ruby")
    line = people.add_access_line(db)
    fake.add_number(line)
    caseworker = make_staff(db, "case@example.org", phone_encrypted=vault.protect(CASEWORKER_PHONE).token)
    other = make_staff(db, "other@example.org", phone_encrypted=vault.protect(OTHER_CASEWORKER_PHONE).token)
    admin = make_staff(
        db, "admin@example.org", "admin", phone_encrypted=vault.protect(CASEWORKER_PHONE).token
    )
    report = make_report(db, member_id=member.id, caseworker_id=caseworker, status="assigned")
    return StaffCallWorld(app, fake, db, member, caseworker, other, admin, report, line)
