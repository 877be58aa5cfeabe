"""Staff notifications by email: SMTP in production, a mail log in development.

Notifications carry no personal data — never a member's name or number, a
caller's number or anything from a report — only that something is waiting
and a link into the staff console, where staff sign in to see it.
"""

from __future__ import annotations

import fcntl
import os
import smtplib
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.settings import Settings

SMTP_TIMEOUT_SECONDS = 10


def staff_link(settings: Settings, path: str) -> str:
    """An absolute link into the staff console (``path`` holds opaque ids only)."""
    base = (settings.staff_console_url or settings.public_base_url).rstrip("/")
    return f"{base}/staff/{path.lstrip('/')}"


def build_message(settings: Settings, to: Sequence[str], subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    message.set_content(body)
    return message


def send_mail(settings: Settings, to: Sequence[str], subject: str, body: str) -> None:
    """Send one message to ``to``; raises on SMTP failure so the job is retried."""
    if not to:
        return
    message = build_message(settings, to, subject, body)
    if not settings.smtp_host:
        _append_to_log(Path(settings.mail_log_path), message)
        return
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        if settings.smtp_starttls:
            # Verified, against the system's CAs or SMTP_CA_FILE (a scheme's
            # own CA): Python's default here checks nothing, and a server
            # that merely answers for the name would get the password.
            smtp.starttls(context=ssl.create_default_context(cafile=settings.smtp_ca_file or None))
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(message)


def _append_to_log(path: Path, message: EmailMessage) -> None:
    """Development: append the whole message to the mail log (one writer at a time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write(message.as_string())
        fh.write("\n")
        fh.flush()
