"""What a caseworker typed survives a session that timed out meanwhile.

A form sent after the idle timeout (or the session's lifetime) struck
would otherwise be lost at the sign-in page. Instead, when the sign-in hook
(``ivr.staff.auth``) finds such a session on a POST, :func:`keep_typed_form`
keeps the form server-side (``storage.kept_forms``: encrypted, one per
account, an hour at most) and the browser's fresh session names only its
random handle. Nothing typed goes into a URL, a redirect or a log.

Kept only when all of these hold: the session timed out (not signed out
or ended: an account signed out everywhere, disabled or given a new
password keeps nothing); the form carries that session's CSRF token, so
another site cannot plant one; it is one of :data:`TYPED_TEXT_FORMS` (free
text, and never a password, PIN or code); it is small (:data:`MAX_CHARS`)
and carries no file.

After signing in again as the same account, :func:`kept_form_page` shows
the form once, with a fresh CSRF token, to send again as it was; the view
it goes to checks it as any post, and returns to the page it belongs to.
Another account signing in in that browser drops it unseen.
"""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, session, url_for
from flask_wtf.csrf import validate_csrf
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response
from wtforms import ValidationError

from ivr.services import current_services
from ivr.staff.blueprint import bp
from ivr.staff.common import db, viewer
from storage import kept_forms
from storage.models import Staff

# The forms whose loss would lose someone's typing: notes, summaries, reasons.
TYPED_TEXT_FORMS = frozenset(
    {
        "staff.report_update",
        "staff.warning_from_report",
        "staff.warning_edit",
        "staff.warning_translation",
        "staff.signal_dismiss",
        "staff.signal_warning",
    }
)
# Longer than any note typed by hand; a bigger post is not kept.
MAX_CHARS = 20_000
MAX_FIELDS = 20
SESSION_KEY = "kept_form"


def keep_typed_form(staff: Staff | None) -> str | None:
    """Keep this request's form for ``staff``, whose session just timed out,
    if it qualifies (see the module's docstring); its handle, or None.
    Called before the old session is cleared: its CSRF token is checked."""
    if staff is None or request.method != "POST" or request.endpoint not in TYPED_TEXT_FORMS:
        return None
    if request.files:
        return None
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return None
    fields = [(name, value) for name, value in request.form.items(multi=True) if name != "csrf_token"]
    if len(fields) > MAX_FIELDS or sum(len(name) + len(value) for name, value in fields) > MAX_CHARS:
        return None
    handle = kept_forms.keep(
        db(),
        current_services().vault.cipher,
        staff.id,
        kept_forms.Kept(action=request.path, fields=fields),
        current_services().settings.now(),
    )
    db().commit()
    return handle


def page_of(path: str) -> str | None:
    """The console page a form posted to ``path`` belongs to: ``path`` itself
    when it also answers GET (a warning's edit page), else its parent (a
    report's ``…/update`` belongs to the report). None when neither is one."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    for candidate in (path, path.rsplit("/", 1)[0]):
        try:
            adapter.match(candidate, method="GET")
        except HTTPException:
            continue
        return candidate
    return None


def offer_after_sign_in(handle: object, staff: Staff) -> bool:
    """Whether the freshly signed-in ``staff`` has a form kept under the
    previous session's ``handle``: then the new session names it. Another
    account's form is dropped."""
    if not isinstance(handle, str):
        return False
    if not kept_forms.belongs_to(db(), handle, staff.id, current_services().settings.now()):
        return False
    session[SESSION_KEY] = handle
    return True


@bp.route("/kept-form")
def kept_form_page() -> Response | str:
    """Once: the form sent as the session timed out, to send again as it was."""
    staff = viewer()
    handle = session.pop(SESSION_KEY, None)
    kept = None
    if isinstance(handle, str):
        kept = kept_forms.take(
            db(), current_services().vault.cipher, handle, staff.id, current_services().settings.now()
        )
        db().commit()
    if kept is None:
        return redirect(url_for("staff.inbox"))
    return render_template(
        "staff/kept_form.html", kept=kept, back=page_of(kept.action) or url_for("staff.inbox")
    )
