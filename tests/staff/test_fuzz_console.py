"""Every staff console route and parameter fuzzed with hypothesis (issue 12, item 9).

Signed in as an admin and as a caseworker, random requests to every rule of
the staff blueprint (read from the app's URL map, so a new page is fuzzed
without touching this file): path ids in any script's digits, past the
column's range, negative or junk; every query parameter and form field the
console reads, with the same values; GET and POST as the rule allows, POSTs
with the session's CSRF token. None may answer with a 5xx (the suite runs
with TESTING, so an unhandled exception fails the test even before it
becomes a 500).
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict
from werkzeug.routing import Rule

from storage.db import Database
from storage.ids import MAX_ID
from tests.staff.helpers import People, csrf_token_of, make_report, sign_in_as

QUERY_NAMES = [
    "after",
    "before",
    "offset",
    "caseworker",
    "status",
    "category",
    "days",
    "action",
    "show",
    "next",
]
FORM_NAMES = [
    "caseworker_id",
    "status",
    "category",
    "notes",
    "summary",
    "expires",
    "greeting",
    "caller_id_shown",
    "accept_withheld",
    "confirm",
    "format",
    "pin",
    "name",
    "phone",
    "numbers",
    "code",
    "current",
    "new",
    "again",
]
NUMBERS_AS_TEXT = st.one_of(
    st.integers(-5, 60).map(str),
    st.integers(MAX_ID - 2, 2**70).map(str),
    st.sampled_from(
        ["²", "\u0663", "\uff13", "\U0001d7ce", "1²", "0x10", "1e3", "-0", " 7", "7 ", "none", ""]
    ),
)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
VALUES = st.one_of(
    NUMBERS_AS_TEXT,
    TEXT,
    st.sampled_from(
        ["open", "closed", "robbery", "expired", "csv", "json", "yes", "2026-12-31", "2026-02-30"]
    ),
)
# Ids in a path: the converters take only ASCII digits, so other text ends in
# a 404 before any view runs; URL-quoted so any text makes a valid URL.
PATH_VALUES = st.one_of(NUMBERS_AS_TEXT, TEXT).map(lambda text: quote(text, safe=""))

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _staff_rules(app: Flask) -> list[Rule]:
    return sorted(
        (rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("staff.")),
        key=lambda rule: rule.rule,
    )


def _path(rule: Rule, values: list[str]) -> str:
    parts = iter(values)
    return re.sub(r"<[^>]+>", lambda _: next(parts), rule.rule)


@pytest.fixture
def seeded(db: Database, people: People) -> list[str]:
    """Ids that exist, so random requests also reach the views' real work."""
    report = make_report(db)
    mine = make_report(db, caseworker_id=people.alice)
    bobs = make_report(db, caseworker_id=people.bob)
    return [str(i) for i in (report, mine, bobs, people.admin, people.alice, people.bob)]


@pytest.mark.parametrize("who", ["admin", "alice"])
def test_no_console_request_gets_a_server_error(
    inline_app: Flask, people: People, seeded: list[str], who: str
) -> None:
    rules = _staff_rules(inline_app)
    assert len(rules) > 20
    staff_id = getattr(people, who)
    ids = st.sampled_from(seeded).map(str) | PATH_VALUES

    @FUZZ
    @given(
        rule=st.sampled_from(rules),
        path_values=st.lists(ids, min_size=2, max_size=2),
        query=st.lists(st.tuples(st.sampled_from(QUERY_NAMES), VALUES), max_size=4),
        form=st.lists(st.tuples(st.sampled_from(FORM_NAMES), VALUES | st.sampled_from(seeded)), max_size=6),
        post=st.booleans(),
    )
    def one_request(
        rule: Rule,
        path_values: list[str],
        query: list[tuple[str, str]],
        form: list[tuple[str, str]],
        post: bool,
    ) -> None:
        client = sign_in_as(inline_app.test_client(), staff_id)
        path = _path(rule, path_values)
        method = "POST" if post and "POST" in (rule.methods or ()) else "GET"
        if method == "GET" and "GET" not in (rule.methods or ()):
            method = "POST"
        data = MultiDict([*form, ("csrf_token", csrf_token_of(client))]) if method == "POST" else None
        response = client.open(path, method=method, query_string=MultiDict(query), data=data)
        assert response.status_code < 500, (method, path, query, form, response.status_code)

    one_request()
