"""Every page of the staff console, in one place: the accessibility run
(``tests/staff/test_accessibility.py``) opens each of them at each width
and as each role that may see it. A new page is added here, once.

A path may name a seeded row (``{report_id}`` …): the facts come from
:func:`tests.support.console_world.seed_console`.
"""

from __future__ import annotations

from dataclasses import dataclass

# Phone widths in CSS pixels: a common phone (390) and the narrowest that
# WCAG 1.4.10 (reflow) asks for (320).
WIDTHS = (390, 320)

ADMIN, CASEWORKER, ANONYMOUS = "admin", "caseworker", "anonymous"
STAFF = (ADMIN, CASEWORKER)


@dataclass(frozen=True)
class ConsolePage:
    """A console page: its path (with ``{fact}`` placeholders), and who opens it."""

    path: str
    roles: tuple[str, ...] = STAFF

    def url(self, facts: dict[str, int]) -> str:
        return self.path.format(**facts)


CONSOLE_PAGES: tuple[ConsolePage, ...] = (
    ConsolePage("/staff/login", (ANONYMOUS,)),
    ConsolePage("/staff/reports"),
    ConsolePage("/staff/reports?status=new"),
    ConsolePage("/staff/reports/{report_id}"),
    ConsolePage("/staff/reports/{report_id}/warning"),
    ConsolePage("/staff/signals"),
    ConsolePage("/staff/signals/{signal_id}"),
    ConsolePage("/staff/warnings"),
    ConsolePage("/staff/warnings/{warning_id}/edit"),
    ConsolePage("/staff/warnings/import"),
    ConsolePage("/staff/stats"),
    ConsolePage("/staff/languages"),
    ConsolePage("/staff/callbacks"),
    ConsolePage("/staff/checkins"),
    ConsolePage("/staff/alarms/{alarm_id}"),
    ConsolePage("/staff/account"),
    # A page that does not exist, and (for a caseworker) one they may not open.
    ConsolePage("/staff/reports/2147483647"),
    ConsolePage("/staff/members", (ADMIN, CASEWORKER)),
    ConsolePage("/staff/members/new", (ADMIN,)),
    ConsolePage("/staff/members/{member_id}", (ADMIN,)),
    ConsolePage("/staff/numbers", (ADMIN,)),
    ConsolePage("/staff/export", (ADMIN,)),
    ConsolePage("/staff/audit", (ADMIN,)),
    ConsolePage("/staff/jobs", (ADMIN,)),
    ConsolePage("/staff/staff", (ADMIN, CASEWORKER)),
    ConsolePage("/staff/staff/new", (ADMIN,)),
    ConsolePage("/staff/staff/{caseworker_id}", (ADMIN,)),
)


def pages_for(role: str) -> list[ConsolePage]:
    return [page for page in CONSOLE_PAGES if role in page.roles]
