"""Members (admin): enrol, cancel, reset PIN, preferences.

A member's real number is never shown back: the console decrypts it only to
compute its last three digits. A PIN is shown once, on the page answering the
form that set it (that response is never cached), and never again.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from callflows.checkin import check_buddy
from callflows.errors import (
    BadBuddy,
    BadPin,
    DuplicateMember,
    InvalidPhoneNumber,
    NumberPoolEmpty,
    WithheldNumber,
)
from callflows.languages import LANGUAGES
from callflows.phone import last_three, normalise
from callflows.pin_quality import weakness
from core.services import recording_store
from ivr.services import current_services
from ivr.staff.blueprint import bp
from ivr.staff.common import PAGE_SIZE, audit, db, int_arg, require_admin
from ivr.staff.forms import BuddyForm, CancelForm, DuressForm, EnrolForm, PinForm, PreferencesForm
from storage import callback_requests, checkin_setup, staff_calls
from storage import repositories as repo
from storage.hashing import hash_secret
from storage.models import CallerIdShown, Greeting, Member, MemberStatus, SafetyNumber


def _sentence(exc: Exception) -> str:
    text = str(exc).rstrip(".")
    return text[:1].upper() + text[1:] + "."


def new_pin(own_phone_e164: str | None) -> str:
    """A random PIN two digits longer than the minimum, never one too easy to guess."""
    length = current_services().settings.pin_min_length + 2
    while True:
        pin = "".join(secrets.choice("0123456789") for _ in range(length))
        if weakness(pin, own_phone_e164) is None:
            return pin


def _phone(member: Member) -> str | None:
    """The member's registered phone, decrypted only to keep it out of their PIN."""
    return current_services().vault.reveal(member.phone_encrypted) if member.phone_encrypted else None


def phone_last3(member: Member) -> str | None:
    """The last three digits of the member's phone (decrypted only for this)."""
    if not member.phone_encrypted:
        return None
    return last_three(current_services().vault.reveal(member.phone_encrypted))


@bp.route("/members")
def members_list() -> str:
    """Members by id, with Safety Number and status; never the real number."""
    require_admin()
    offset = int_arg("offset") or 0
    rows = (
        db()
        .execute(
            select(Member, SafetyNumber.e164)
            .outerjoin(SafetyNumber, SafetyNumber.member_id == Member.id)
            .order_by(Member.id.desc())
            .offset(offset)
            .limit(PAGE_SIZE + 1)
        )
        .all()
    )
    total = db().scalar(select(func.count()).select_from(Member)) or 0
    return render_template(
        "staff/members.html",
        rows=[(m, n, phone_last3(m)) for m, n in rows[:PAGE_SIZE]],
        total=total,
        next_offset=offset + PAGE_SIZE if len(rows) > PAGE_SIZE else None,
        prev_offset=max(offset - PAGE_SIZE, 0) if offset else None,
    )


@bp.route("/members/new", methods=["GET", "POST"])
def member_new() -> str | tuple[str, int]:
    """Enrol a member: assigns a free Safety Number and shows the PIN once."""
    require_admin()
    if request.method == "GET":
        return render_template("staff/member_new.html", form={}, error=None)
    form = EnrolForm()
    svc = current_services()
    pin = form.pin.data
    try:
        phone = normalise(form.phone.data, svc.settings.default_region)
        pin = pin or new_pin(phone)
        member, line = repo.enrol_member(
            db(),
            svc.vault,
            name=form.name.data,
            phone_e164=phone,
            pin=pin,
            pin_min_length=svc.settings.pin_min_length,
        )
    except (InvalidPhoneNumber, WithheldNumber):
        error = "That is not a valid phone number."
    except (DuplicateMember, NumberPoolEmpty, BadPin, ValueError) as exc:
        error = _sentence(exc)
    else:
        audit("member.enrol", "member", member.id)
        db().commit()
        return render_template("staff/pin_shown.html", member=member, line=line.e164, pin=pin, enrolled=True)
    db().rollback()
    return render_template("staff/member_new.html", form={"name": form.name.data}, error=error), 400


def _member(member_id: int) -> Member:
    member = db().get(Member, member_id)
    if member is None:
        abort(404)
    return member


def _active(member_id: int) -> Member:
    member = _member(member_id)
    if member.status != MemberStatus.ACTIVE:
        abort(409)
    return member


@bp.route("/members/<int(max=2147483647):member_id>")
def member_page(member_id: int) -> str:
    """One member: Safety Number, preferences, PIN reset, cancellation."""
    require_admin()
    member = _member(member_id)
    line = db().scalars(select(SafetyNumber).where(SafetyNumber.member_id == member.id)).first()
    last3 = phone_last3(member)
    buddy_last3 = (
        last_three(current_services().vault.reveal(member.buddy_encrypted))
        if member.buddy_encrypted
        else None
    )
    # The page shows a name and digits of a phone: who looked is kept.
    audit("member.view", "member", member.id)
    db().commit()
    return render_template(
        "staff/member.html",
        member=member,
        line=line,
        last3=last3,
        buddy_last3=buddy_last3,
        greetings=list(Greeting),
        caller_ids=list(CallerIdShown),
        languages=LANGUAGES,
        calls=staff_calls.calls_about(db(), member_id=member.id),
        callback=callback_requests.open_for(db(), member.id),
    )


@bp.route("/members/<int(max=2147483647):member_id>/preferences", methods=["POST"])
def member_preferences(member_id: int) -> Response:
    """Greeting, whether withheld callers get through, which caller ID the
    member sees, the language the member hears and the one callers hear."""
    require_admin()
    member = _active(member_id)
    form = PreferencesForm()
    if not form.validate():
        abort(400)
    greeting, caller_id = form.greeting.data, form.caller_id_shown.data
    member.greeting, member.caller_id_shown = greeting, caller_id
    member.accept_withheld = form.accept_withheld.data
    if form.language.raw_data:
        member.language = form.language.data
    if form.caller_language.raw_data:
        member.caller_language = form.caller_language.data
    audit(
        "member.preferences",
        "member",
        member.id,
        f"greeting={greeting} withheld={member.accept_withheld} caller_id={caller_id}"
        f" language={member.language} caller_language={member.caller_language}",
    )
    db().commit()
    flash("Preferences saved.")
    return redirect(url_for("staff.member_page", member_id=member.id))


@bp.route("/members/<int(max=2147483647):member_id>/pin", methods=["POST"])
def member_reset_pin(member_id: int) -> str | Response:
    """Set a new PIN (typed, or random when left empty), shown once; unlocks the menu."""
    require_admin()
    member = _active(member_id)
    pin = PinForm().pin.data or new_pin(_phone(member))
    try:
        repo.check_pin(pin, current_services().settings.pin_min_length, _phone(member))
    except BadPin as exc:
        flash(_sentence(exc))
        return redirect(url_for("staff.member_page", member_id=member.id))
    member.pin_hash = hash_secret(pin)
    member.pin_failures = 0
    member.menu_locked_until = None
    audit("member.pin_reset", "member", member.id)
    db().commit()
    return render_template("staff/pin_shown.html", member=member, line=None, pin=pin, enrolled=False)


def _change_safety_net(
    member_id: int,
    action: str,
    form: DuressForm | BuddyForm,
    set_net: Callable[[Member], None],
    remove_net: Callable[[Member], None],
    done: tuple[str, str],
) -> Response:
    """Set a member's duress PIN or buddy, or remove it when ``form`` says so, audited as
    ``action``, and flash ``done`` (said on setting, on removing); a refusal is shown and
    nothing changes."""
    member = _active(member_id)
    removing = bool(form.remove.data)
    try:
        (remove_net if removing else set_net)(member)
    except (BadPin, BadBuddy) as exc:
        flash(_sentence(exc))
        return redirect(url_for("staff.member_page", member_id=member.id))
    audit(action, "member", member.id, "removed" if removing else "set")
    db().commit()
    flash(done[1] if removing else done[0])
    return redirect(url_for("staff.member_page", member_id=member.id))


@bp.route("/members/<int(max=2147483647):member_id>/duress", methods=["POST"])
def member_duress(member_id: int) -> Response:
    """Set the duress PIN (same rules as the PIN, not the PIN), or remove it."""
    require_admin()
    form = DuressForm()
    pin_min = current_services().settings.pin_min_length

    def set_pin(member: Member) -> None:
        checkin_setup.set_duress_pin(member, form.pin.data or "", pin_min, _phone(member))

    done = ("Duress PIN set.", "Duress PIN removed.")
    return _change_safety_net(
        member_id, "member.duress_pin", form, set_pin, checkin_setup.remove_duress_pin, done
    )


@bp.route("/members/<int(max=2147483647):member_id>/buddy", methods=["POST"])
def member_buddy(member_id: int) -> Response:
    """Set the buddy called on a missed check-in (not premium, foreign or emergency), or remove it."""
    require_admin()
    form = BuddyForm()
    svc = current_services()

    def set_buddy(member: Member) -> None:
        buddy = check_buddy(svc.settings.destination_policy, form.phone.data or "", _phone(member))
        checkin_setup.set_buddy(member, svc.vault, buddy)

    done = ("Buddy saved.", "Buddy removed.")
    return _change_safety_net(member_id, "member.buddy", form, set_buddy, checkin_setup.remove_buddy, done)


@bp.route("/members/<int(max=2147483647):member_id>/cancel", methods=["POST"])
def member_cancel(member_id: int) -> Response:
    """Cancel: erase name, phone, PIN and blocks; quarantine the Safety Number."""
    require_admin()
    member = _active(member_id)
    if not CancelForm().validate():
        flash("Tick the box to confirm the cancellation.")
        return redirect(url_for("staff.member_page", member_id=member.id))
    repo.cancel_member(db(), member, recording_store(current_services()))
    audit("member.cancel", "member", member.id)
    db().commit()
    # Their calls, blocks and reports no longer count towards risk signals.
    current_services().queue.enqueue("compute_signals")
    flash("Membership cancelled; personal data erased and the Safety Number quarantined.")
    return redirect(url_for("staff.member_page", member_id=member.id))
