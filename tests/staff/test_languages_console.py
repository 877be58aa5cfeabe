"""The staff console: a member's two languages, and every language's review status."""

from __future__ import annotations

from flask.testing import FlaskClient

from callflows.languages import LANGUAGES
from storage.db import Database
from tests.staff.helpers import post
from tests.support.menu import member_row
from tests.support.people import Enrol

PREFERENCES = {"greeting": "none", "caller_id_shown": "safety_number"}


def test_the_console_sets_both_languages_and_shows_review_status(
    db: Database, enrol: Enrol, admin: FlaskClient
) -> None:
    member = enrol()
    page = admin.get(f"/staff/members/{member.id}").get_data(as_text=True)
    assert "Română (Romanian), not yet checked by a native speaker" in page
    post(
        admin,
        f"/staff/members/{member.id}/preferences",
        {**PREFERENCES, "language": "th", "caller_language": "ro"},
    )
    row = member_row(db, member.id)
    assert (row.language, row.caller_language) == ("th", "ro")
    # A post without the language fields (an older page) leaves them alone.
    post(admin, f"/staff/members/{member.id}/preferences", PREFERENCES)
    assert member_row(db, member.id).language == "th"
    refused = post(admin, f"/staff/members/{member.id}/preferences", {**PREFERENCES, "language": "xx"})
    assert refused.status_code == 400 and member_row(db, member.id).language == "th"
    languages = admin.get("/staff/languages").get_data(as_text=True)
    assert languages.count("<td>not yet checked by a native speaker</td>") == len(LANGUAGES) - 1
    assert "Polly.Carmen (ro-RO)" in languages and "Google.th-TH-Standard-A (th-TH)" in languages
