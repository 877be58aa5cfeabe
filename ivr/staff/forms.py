"""The console's forms (Flask-WTF): what each POST may carry, and the CSRF check.

Every state-changing request to the console must carry this session's CSRF
token (form field ``csrf_token`` or the ``X-CSRF-Token`` header); a missing
or wrong one is refused with 400 before the view runs, so nothing changes.
The check runs as a hook of the staff blueprint only: Twilio's webhooks are
signature-checked and have no cookie session (``ivr.sessions``), so they
must never meet it.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from flask import Flask
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, DataRequired, Optional

from callflows.languages import LANGUAGE_CODES
from callflows.sanitise import sanitise_summary
from callflows.status import AlarmOutcome
from storage.ids import parse_id
from storage.models import CATEGORIES, CallerIdShown, Greeting, ReportStatus

csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    """Bind CSRF protection to the app, checked only where the console asks."""
    # Checked by the staff blueprint's hook below, not on every app request.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    # A token lives as long as the session (which the idle timeout ends), as before.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    # Flask-WTF would refuse an https POST without a same-origin Referer; the
    # console sends "Referrer-Policy: no-referrer" (ivr.staff.headers), so
    # browsers send none. The token, SameSite cookies and the CSP's
    # form-action 'self' already tie every form to this site.
    app.config.setdefault("WTF_CSRF_SSL_STRICT", False)
    csrf.init_app(app)


def check_csrf_token() -> None:
    """Refuse any state-changing console request without this session's token.

    Registered on the staff blueprint by ``ivr.staff`` after the sign-in hook.
    """
    csrf.protect()


class TriageForm(FlaskForm):
    """A report's status, category and notes."""

    status = SelectField(choices=[s.value for s in ReportStatus])
    category = SelectField(choices=["", *CATEGORIES], default="")
    notes = TextAreaField()


class IdField(IntegerField):
    """A row id: ASCII digits within the id column's range (``storage.ids``);
    WTForms' own ``int()`` would take any script's digits."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist or valuelist[0] == "":
            self.data = None
            return
        self.data = parse_id(str(valuelist[0]))
        if self.data is None:
            raise ValueError("not a valid id")


class AssignForm(FlaskForm):
    """Who holds a report: a staff id, or empty for nobody (admins); nothing (take it)."""

    caseworker_id = IdField(validators=[Optional()])


class ExpiryField(DateField):
    """An optional end date (YYYY-MM-DD); a warning lasts to the end of that day."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            # The date picker shows the browser's own format (31/12/2026 in
            # the UK), so the message names none: it says what to do.
            raise ValueError(
                "that expiry date could not be read: pick a day with the date field, or leave it empty"
            ) from None

    def end_of_day(self) -> datetime | None:
        """The last second of the chosen day, or None: the warning never expires."""
        return datetime.combine(self.data, time(23, 59, 59)) if self.data else None


class WarningForm(FlaskForm):
    """A warning about a caller: its category, what members hear, when it ends.

    The summary is sanitised as it is read (markup and numbers removed), so
    one that is nothing but those is empty, and what the form shows back is
    what members would hear.
    """

    category = SelectField(
        choices=CATEGORIES,
        validate_choice=False,
        validators=[AnyOf(CATEGORIES, message=f"category must be one of: {', '.join(CATEGORIES)}")],
    )
    summary = TextAreaField(
        filters=[lambda text: sanitise_summary(text) if text else text],
        validators=[DataRequired("the summary is empty")],
    )
    expires = ExpiryField(validators=[Optional()])


class SummaryTranslationForm(FlaskForm):
    """Staff's translation of a warning's summary into one language (empty: remove it)."""

    language = SelectField(choices=[code for code in LANGUAGE_CODES if code != "en"])
    summary = TextAreaField(filters=[lambda text: sanitise_summary(text) if text else ""])


class DismissForm(FlaskForm):
    """Why a risk signal is nothing to act on; sanitised like a warning's summary."""

    reason = TextAreaField(
        filters=[lambda text: sanitise_summary(text) if text else text],
        validators=[DataRequired("give a reason for dismissing the signal")],
    )


class PreferencesForm(FlaskForm):
    """How a member's calls are answered and screened."""

    greeting = SelectField(choices=[g.value for g in Greeting])
    caller_id_shown = SelectField(choices=[c.value for c in CallerIdShown])
    # The page's checkbox sends "yes"; left unticked it sends nothing: no.
    accept_withheld = BooleanField(false_values=("", "no", "false"))
    # Left out of a post: unchanged (the view keeps the member's own).
    language = SelectField(choices=list(LANGUAGE_CODES), validators=[Optional()])
    caller_language = SelectField(choices=list(LANGUAGE_CODES), validators=[Optional()])


class CancelForm(FlaskForm):
    """Cancelling a membership needs the box ticked."""

    confirm = BooleanField(validators=[DataRequired()])


class ExportForm(FlaskForm):
    """Which file the police export is downloaded as."""

    format = SelectField(choices=["csv", "json"])


def _stripped(value: str | None) -> str:
    return (value or "").strip()


class SignInForm(FlaskForm):
    """Email and password as typed. Nothing is refused here: every wrong
    sign-in must take the same path, time and answer (``ivr.staff.auth``)."""

    email = StringField(filters=[lambda value: _stripped(value).lower()[:200]])
    password = PasswordField(filters=[lambda value: (value or "")[:500]])


class CodeForm(FlaskForm):
    """A code from the authenticator app; spaces typed between the digits are dropped."""

    code = StringField(filters=[lambda value: "".join((value or "").split())])


class PinForm(FlaskForm):
    """A member's new PIN; empty asks for a random one. Its rule (digits, the
    minimum length) is the enrolment's own, shared with the CLI."""

    pin = StringField(filters=[_stripped])


class EnrolForm(PinForm):
    """A new member; the name and phone are checked by the enrolment itself."""

    name = StringField(filters=[_stripped])
    phone = StringField(filters=[_stripped])


class NumbersForm(FlaskForm):
    """Numbers for the pool, one a line."""

    numbers = TextAreaField()

    def lines(self) -> list[str]:
        """The numbers as typed, blank lines skipped."""
        return [n for n in (self.numbers.data or "").splitlines() if n.strip()]


class ImportForm(FlaskForm):
    """A CSV of warnings; a missing file reads as an empty one (refused row by row)."""

    file = FileField()


class PasswordForm(FlaskForm):
    """One's own new password, typed twice, and the current one."""

    current = PasswordField()
    new = PasswordField()
    again = PasswordField()


class StaffPhoneForm(FlaskForm):
    """One's own phone for masked calls to members; empty removes it."""

    phone = StringField(filters=[_stripped])


class SchemeCallsForm(FlaskForm):
    """Whether the scheme may call a member ("yes") or the member asked not ("no")."""

    allow = SelectField(choices=["yes", "no"])


class OnCallForm(FlaskForm):
    """Whether the signed-in staff member is on call for check-in alarms and risk signals."""

    on_call = BooleanField(false_values=("", "no", "false"))


class AlarmCloseForm(FlaskForm):
    """How staff closed a check-in alarm."""

    outcome = SelectField(choices=[o.value for o in AlarmOutcome])


class RevealForm(FlaskForm):
    """Why an admin needs a last caller's full number (kept in the audit log)."""

    reason = StringField(filters=[_stripped], validators=[DataRequired("give the reason")])


class DuressForm(FlaskForm):
    """A member's duress PIN; ``remove`` takes it away."""

    pin = StringField(filters=[_stripped])
    remove = BooleanField(false_values=("", "no", "false"))


class BuddyForm(FlaskForm):
    """A member's buddy phone; ``remove`` takes it away."""

    phone = StringField(filters=[_stripped])
    remove = BooleanField(false_values=("", "no", "false"))
