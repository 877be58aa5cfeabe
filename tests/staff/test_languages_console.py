"""The staff console: a member's two languages, and every language's review status."""

from __future__ import annotations

from flask.testing import FlaskClient

from callflows import prompts
from callflows.languages import LANGUAGES
from storage import repositories as repo
from storage.db import Database
from storage.vault import NumberVault
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
    assert (
        languages.count('<td data-label="Review">not yet checked by a native speaker</td>')
        == len(LANGUAGES) - 1
    )
    assert "Polly.Carmen (ro-RO)" in languages and "Google.th-TH-Standard-A (th-TH)" in languages
    # Every catalogue says every prompt members hear; the caseworkers' English is not a gap.
    heard = [entry for entry in prompts.CATALOGUE.values() if prompts.heard_by_members(entry)]
    assert languages.count(f'<td data-label="Said in English">0 of {len(heard)} prompts</td>') == len(
        LANGUAGES
    )


def test_admins_translate_a_warning_summary_and_a_changed_summary_drops_it(
    db: Database, vault: NumberVault, admin: FlaskClient, alice: FlaskClient
) -> None:
    with db.session() as s:
        warning = repo.add_warning(
            s, caller_index=vault.index("+447911000111"), category="threats", summary="Grey car."
        )
        s.commit()
        warning_id = warning.id
    url = f"/staff/warnings/{warning_id}/translation"
    assert post(alice, url, {"language": "ro", "summary": "Mașină gri."}).status_code in (403, 404)
    post(admin, url, {"language": "ro", "summary": "Mașină gri, sunați 07911 123456."})
    with db.session() as s:
        assert repo.summary_translations(s, [warning_id], "ro") == {
            warning_id: "Mașină gri, sunați [number ending 456]."
        }
    page = admin.get(f"/staff/warnings/{warning_id}/edit").get_data(as_text=True)
    assert "Mașină gri" in page and "the English summary, announced" in page
    assert post(admin, url, {"language": "en", "summary": "Grey."}).status_code == 400
    post(
        admin,
        f"/staff/warnings/{warning_id}/edit",
        {"category": "threats", "summary": "Grey car, north side."},
    )
    with db.session() as s:
        assert repo.summary_translations(s, [warning_id], "ro") == {}
    post(admin, url, {"language": "ro", "summary": "Mașină gri."})
    post(admin, url, {"language": "ro", "summary": ""})
    with db.session() as s:
        assert repo.summary_translations(s, [warning_id], "ro") == {}
