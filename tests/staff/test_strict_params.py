"""Every integer a console URL or form carries is ASCII digits in the id
column's range, else a 400 or a 404; ``next`` after sign-in is a same-site
path without control characters; the inbox cursor reveals nothing.

Each test replays a request of the attack on the console (issue 12) that
used to end in a 500 or to answer differently for another caseworker's report.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ivr.staff.auth import safe_next
from storage.db import Database
from storage.ids import MAX_ID, parse_id
from storage.models import Report
from tests.staff.helpers import PASSWORD, People, csrf_from, make_report, post, without_csrf

# "²" passes str.isdigit() and int() refuses it; Arabic-Indic three (U+0663)
# and fullwidth three (U+FF13) pass both, and int() reads them as 3.
NOT_ASCII = ("²", "\u0663", "\uff13", "1²")


@pytest.mark.parametrize(
    "text", [*NOT_ASCII, "-1", "+1", " 1", "1 ", "0x1", "1.0", str(MAX_ID + 1), "9" * 40, ""]
)
def test_parse_id_takes_only_ascii_digits_in_the_columns_range(text: str) -> None:
    assert parse_id(text) is None


def test_parse_id_reads_plain_ids_and_honours_the_minimum() -> None:
    assert parse_id("1") == 1 and parse_id(str(MAX_ID)) == MAX_ID and parse_id("007") == 7
    assert parse_id("0") is None and parse_id("0", minimum=0) == 0


@pytest.mark.parametrize("digit", NOT_ASCII)
@pytest.mark.parametrize(
    "query",
    [
        "/staff/reports?after={}",
        "/staff/reports?caseworker={}",
        "/staff/members?offset={}",
        "/staff/warnings?offset={}",
        "/staff/numbers?offset={}",
        "/staff/audit?before={}",
        "/staff/stats?days={}",
    ],
)
def test_a_query_number_in_other_digits_is_a_400(admin, query: str, digit: str) -> None:
    assert admin.get(query.format(digit)).status_code == 400


def test_query_numbers_beyond_the_column_are_a_400_and_plain_ones_still_work(db: Database, admin) -> None:
    report = make_report(db)
    assert admin.get(f"/staff/reports?caseworker={MAX_ID + 1}").status_code == 400
    assert admin.get(f"/staff/members?offset={10**30}").status_code == 400
    assert admin.get("/staff/reports?caseworker=none").status_code == 200
    assert admin.get(f"/staff/reports?after={report}").status_code == 200
    assert admin.get("/staff/members?offset=50").status_code == 200
    assert admin.get("/staff/stats?days=7").status_code == 200


# Zeros of Arabic-Indic, fullwidth and mathematical bold digits.
@pytest.mark.parametrize("zero", ["\u0660", "\uff10", "\U0001d7ce"])
def test_a_path_id_in_other_digits_is_not_found(db: Database, admin, zero: str) -> None:
    """Werkzeug's own ``int`` converter reads Arabic-Indic "3" as 3: the report's own id,
    written in another script's digits, must not open it."""
    report = make_report(db)
    foreign = str(report).translate({ord("0") + d: ord(zero) + d for d in range(10)})
    assert admin.get(f"/staff/reports/{report}").status_code == 200
    assert admin.get(f"/staff/reports/{foreign}").status_code == 404
    assert post(admin, f"/staff/reports/{foreign}/assign", {"caseworker_id": ""}).status_code == 404


@pytest.mark.parametrize("value", [*NOT_ASCII, str(MAX_ID + 1), "-3"])
def test_an_assignee_that_is_no_plain_id_is_a_400_and_changes_nothing(
    db: Database, people: People, admin, value: str
) -> None:
    report = make_report(db)
    response = post(admin, f"/staff/reports/{report}/assign", {"caseworker_id": value})
    assert response.status_code == 400
    with db.session() as s:
        assert s.scalar(select(Report.caseworker_id).where(Report.id == report)) is None


def test_an_assignee_given_as_a_plain_id_is_assigned(db: Database, people: People, admin) -> None:
    report = make_report(db)
    assert (
        post(admin, f"/staff/reports/{report}/assign", {"caseworker_id": str(people.bob)}).status_code == 302
    )
    with db.session() as s:
        assert s.scalar(select(Report.caseworker_id).where(Report.id == report)) == people.bob


@pytest.mark.parametrize(
    "crafted",
    [
        "/staff/reports\r\nSet-Cookie: x=1",
        "/staff/reports\nLocation: https://evil.example",
        "/staff/\treports",
        "/staff/reports\x00",
        "/staff/reports\u2028",
        "//evil.example/staff/",
        "/staff/..\\..\\evil",
        "https://evil.example/staff/",
        "/reports",
    ],
)
def test_next_is_only_a_same_site_console_path_without_control_characters(crafted: str) -> None:
    assert safe_next(crafted) is None


def test_next_keeps_a_console_path_and_its_query() -> None:
    assert safe_next("/staff/warnings?offset=50") == "/staff/warnings?offset=50"
    assert safe_next("/staff/reports?") == "/staff/reports"


@pytest.mark.parametrize(
    "crafted", ["//evil.example/staff/", "/staff/..%5c..%5cevil", "https://evil.example/staff/"]
)
def test_next_to_another_site_lands_on_the_inbox_after_sign_in(anon, people: People, crafted: str) -> None:
    page = anon.get(f"/staff/login?next={crafted}").get_data(as_text=True)
    response = anon.post(
        "/staff/login",
        data={"email": "alice@example.org", "password": PASSWORD, "csrf_token": csrf_from(page)},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/reports"


@pytest.mark.parametrize("crafted", ["/staff/reports%0d%0aSet-Cookie:%20x=1", "/staff/reports%0aX:%20y"])
def test_next_with_a_line_break_is_refused_with_a_400_not_a_500(anon, people: People, crafted: str) -> None:
    """The attack: CR/LF in ``next`` used to reach the Location header after
    sign-in and end in a 500; now the sign-in page refuses it outright."""
    response = anon.get(f"/staff/login?next={crafted}")
    assert response.status_code == 400
    with anon.session_transaction() as sess:
        assert "next" not in sess


def test_a_page_asked_for_with_a_line_break_keeps_it_encoded_on_the_way_to_sign_in(anon) -> None:
    response = anon.get("/staff/reports?status=%0d%0aX:%20y")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/staff/login?next=") and "\r" not in location and "\n" not in location


def test_a_safe_next_still_returns_to_the_page_asked_for(anon, people: People) -> None:
    page = anon.get("/staff/login?next=/staff/warnings?offset%3D50").get_data(as_text=True)
    response = anon.post(
        "/staff/login",
        data={"email": "alice@example.org", "password": PASSWORD, "csrf_token": csrf_from(page)},
    )
    assert response.headers["Location"] == "/staff/warnings?offset=50"


def test_the_inbox_cursor_answers_alike_for_another_caseworkers_report_and_none(
    db: Database, people: People, alice
) -> None:
    """The attack: page alice's inbox "after" bob's report. It used to list the
    reports older than bob's (so it existed, and when); a missing id gave the
    first page. Now both are the same 404 page."""
    older = make_report(db)
    bobs = make_report(db, caseworker_id=people.bob)
    with db.session() as s:
        missing = (s.scalar(select(Report.id).order_by(Report.id.desc()).limit(1)) or 0) + 1000
    foreign = alice.get(f"/staff/reports?after={bobs}")
    absent = alice.get(f"/staff/reports?after={missing}")
    assert foreign.status_code == absent.status_code == 404
    assert without_csrf(foreign.get_data(as_text=True)) == without_csrf(absent.get_data(as_text=True))
    assert f"/staff/reports/{older}" not in foreign.get_data(as_text=True)


def test_the_inbox_cursor_pages_on_after_a_report_the_viewer_may_see(
    db: Database, people: People, alice
) -> None:
    older = make_report(db)
    mine = make_report(db, caseworker_id=people.alice)
    html = alice.get(f"/staff/reports?after={mine}").get_data(as_text=True)
    assert f"/staff/reports/{older}" in html and f"/staff/reports/{mine}" not in html
