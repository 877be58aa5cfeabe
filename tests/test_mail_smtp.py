"""Staff notifications through a real SMTP server on loopback (aiosmtpd):
STARTTLS on a certificate the test makes, authentication, and failures that
leave the notification to be retried rather than lost."""

from __future__ import annotations

import datetime as dt
import ipaddress
import smtplib
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from storage.db import Database
from storage.models import Report, ReportStatus
from tests.support.people import Enrol
from tests.worker_helpers import add_report, add_staff, job_services
from worker.handoff import REPORT_SUBJECT, assign_report

USER, PASSWORD = "notify", "smtp-secret-123"
NAME, PHONE = "Scarlett", "+447700900456"


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key: (certificate, key) files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@dataclass
class Mailbox:
    """What the server accepted, and how it should answer DATA next."""

    received: list[Envelope] = field(default_factory=list)
    refuse_data: str | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        if self.refuse_data:
            return self.refuse_data
        self.received.append(envelope)
        return "250 Message accepted"


@dataclass
class SmtpServer:
    port: int
    certificate: Path
    mailbox: Mailbox


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    # handled=False: the server answers 535 itself (True would leave the client waiting).
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[SmtpServer]:
    """An SMTP server on loopback that requires STARTTLS before anything and
    authentication before mail."""
    certificate, key = self_signed_certificate(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(certificate, key)
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=tls,
        require_starttls=True,
        authenticator=_authenticate,
        auth_required=True,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield SmtpServer(port, certificate, mailbox)
    finally:
        controller.stop()


def _report(db: Database, report_id: int) -> Report:
    with db.session() as s:
        report = s.get(Report, report_id)
        assert report is not None
        return report


def _settings(server: SmtpServer, **overrides: str) -> dict[str, str]:
    return {
        "REDIS_URL": None,  # type: ignore[dict-item]
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(server.port),
        "SMTP_USER": USER,
        "SMTP_PASSWORD": PASSWORD,
        "SMTP_CA_FILE": str(server.certificate),
        "MAIL_FROM": "safety-number@scheme.example",
        **overrides,
    }


def test_a_notification_goes_through_starttls_and_authentication(
    enrol: Enrol, db: Database, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    with job_services(tmp_path, db, **_settings(smtp_server)):
        member_id = enrol(name=NAME, phone=PHONE).id
        caseworker = add_staff(db, "case@example.org")
        report_id = add_report(db, member_id)
        assign_report(report_id)
    assert _report(db, report_id).caseworker_id == caseworker
    [envelope] = smtp_server.mailbox.received
    assert envelope.mail_from == "safety-number@scheme.example"
    assert envelope.rcpt_tos == ["case@example.org"]
    mail = message_from_bytes(envelope.original_content or b"")
    assert mail["Subject"] == REPORT_SUBJECT
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode()
    assert f"https://safety.example.org/staff/reports/{report_id}" in body
    assert NAME not in body and PHONE[-9:] not in body


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"SMTP_PASSWORD": "wrong"}, smtplib.SMTPAuthenticationError),
        # Without the scheme's CA, the self-signed certificate is not trusted:
        # nothing is sent to a server that could be anyone.
        ({"SMTP_CA_FILE": ""}, ssl.SSLCertVerificationError),
        ({"SMTP_STARTTLS": "0"}, smtplib.SMTPException),
        # Nothing listens on port 1: the connection is refused at once.
        ({"SMTP_PORT": "1"}, ConnectionRefusedError),
    ],
)
def test_a_refused_notification_leaves_the_report_for_a_retry(
    enrol: Enrol,
    db: Database,
    tmp_path: Path,
    smtp_server: SmtpServer,
    overrides: dict[str, str],
    error: type[Exception],
) -> None:
    with job_services(tmp_path, db, **_settings(smtp_server, **overrides)):
        member_id = enrol(name=NAME, phone=PHONE).id
        add_staff(db, "case@example.org")
        report_id = add_report(db, member_id)
        with pytest.raises(error):
            assign_report(report_id)
    report = _report(db, report_id)
    assert (report.caseworker_id, report.status) == (None, ReportStatus.NEW)
    assert smtp_server.mailbox.received == []


def test_a_server_failing_the_message_leaves_it_to_be_retried_and_the_retry_delivers(
    enrol: Enrol, db: Database, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    smtp_server.mailbox.refuse_data = "451 Local error in processing"
    with job_services(tmp_path, db, **_settings(smtp_server)):
        member_id = enrol(name=NAME, phone=PHONE).id
        caseworker = add_staff(db, "case@example.org")
        report_id = add_report(db, member_id)
        with pytest.raises(smtplib.SMTPDataError):
            assign_report(report_id)
        assert _report(db, report_id).caseworker_id is None
        smtp_server.mailbox.refuse_data = None
        assign_report(report_id)  # RQ's retry
    assert _report(db, report_id).caseworker_id == caseworker
    assert len(smtp_server.mailbox.received) == 1
