"""Numbers a member may key for a masked call, over real UK ranges, and
what the default destination policy makes of each."""

from __future__ import annotations

from callflows.destinations import Refusal

# keyed, expected E.164 when allowed or the refusal
TABLE = [
    # London geographic (Ofcom's drama block, but a valid geographic number).
    ("020 7946 0123", "+442079460123"),
    ("02079460999", "+442079460999"),
    ("+44 20 7946 0123", "+442079460123"),
    ("0044 20 7946 0123", "+442079460123"),
    ("0113 496 0123", "+441134960123"),
    # Mobiles (phonenumbers files 07911 12… under Guernsey: still the UK plan).
    ("07911 123456", "+447911123456"),
    ("07400 123456", "+447400123456"),
    # 03: charged like a geographic number.
    ("0300 123 4567", "+443001234567"),
    ("0345 123 4567", "+443451234567"),
    # Reserved for drama, not in service.
    ("07700 900123", Refusal.NOT_WORKING),
    ("07700 900999", Refusal.NOT_WORKING),
    ("01632 960123", Refusal.NOT_WORKING),
    ("0123", Refusal.NOT_WORKING),
    ("", Refusal.NOT_WORKING),
    ("*#", Refusal.NOT_WORKING),
    # Premium rate.
    ("0909 879 0123", Refusal.PREMIUM),
    ("0901 123 4567", Refusal.PREMIUM),
    ("0911 123 4567", Refusal.PREMIUM),
    # Personal numbers.
    ("070 1234 5678", Refusal.PERSONAL),
    # Service / shared cost.
    ("0845 123 4567", Refusal.SERVICE),
    ("0844 123 4567", Refusal.SERVICE),
    ("0871 234 5678", Refusal.SERVICE),
    ("0870 123 4567", Refusal.SERVICE),
    # Directory enquiries.
    ("118 118", Refusal.DIRECTORY),
    ("118500", Refusal.DIRECTORY),
    # Emergency and public services: dial them directly.
    ("999", Refusal.EMERGENCY),
    ("112", Refusal.EMERGENCY),
    ("911", Refusal.EMERGENCY),
    ("18000", Refusal.EMERGENCY),
    ("101", Refusal.DIAL_DIRECTLY),
    ("111", Refusal.DIAL_DIRECTLY),
    ("116 123", Refusal.DIAL_DIRECTLY),
    # Not UK.
    ("+1 202 555 0123", Refusal.NOT_UK),
    ("001 202 555 0123", Refusal.NOT_UK),
    ("+33 6 12 34 56 78", Refusal.NOT_UK),
    ("0033612345678", Refusal.NOT_UK),
    ("+881 6 1234 5678", Refusal.NOT_UK),
    ("+353 85 123 4567", Refusal.NOT_UK),
    # Other UK types outside the default table.
    ("0800 123 4567", Refusal.NOT_ALLOWED),
    ("0560 123 4567", Refusal.NOT_ALLOWED),
    ("055 1234 5678", Refusal.NOT_ALLOWED),
]


def keyable(refusal: Refusal) -> str:
    """The first number of the table refused for ``refusal`` that a phone's
    keypad can send (digits only, spaces dropped)."""
    return next(
        digits
        for keyed, expected in TABLE
        if expected is refusal and (digits := keyed.replace(" ", "")).isdigit()
    )
