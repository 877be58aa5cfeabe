"""Failed background jobs (admin): see them, run them again, or discard them.

Each action is audited with the job's name and key; nothing but ids is ever
shown (core/failed_jobs.py). Discarding asks for a confirmation first.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from core import failed_jobs
from ivr.services import current_services
from ivr.staff.blueprint import bp
from ivr.staff.common import audit, db, require_admin


@bp.route("/jobs")
def jobs_page() -> str:
    """Every job that failed for good, with its error's type."""
    require_admin()
    return render_template("staff/jobs.html", jobs=failed_jobs.listed(current_services()))


def _failed(source: str, key: str) -> failed_jobs.FailedJob:
    valid = key.isascii() and key.isdigit() if source == "event" else failed_jobs.RQ_JOB_ID.match(key)
    job = failed_jobs.find(current_services(), source, key) if valid else None
    if job is None:
        abort(404)
    return job


def _audit(action: str, job: failed_jobs.FailedJob) -> None:
    audit(action, "job", int(job.key) if job.source == "event" else None, f"{job.source} {job.job} {job.key}")
    db().commit()


@bp.route("/jobs/<any(rq, event):source>/<key>/requeue", methods=["POST"])
def job_requeue(source: str, key: str) -> Response:
    """Run a failed job again."""
    require_admin()
    job = _failed(source, key)
    failed_jobs.requeue(current_services(), job)
    _audit("job.requeue", job)
    flash(f"{job.job} queued again.")
    return redirect(url_for("staff.jobs_page"))


@bp.route("/jobs/<any(rq, event):source>/<key>/discard", methods=["POST"])
def job_discard(source: str, key: str) -> Response:
    """Give a failed job up for good, once the admin has confirmed it."""
    require_admin()
    job = _failed(source, key)
    if request.form.get("confirm") != "yes":
        flash("Nothing was discarded: tick the box to confirm first.")
        return redirect(url_for("staff.jobs_page"))
    failed_jobs.discard(current_services(), job)
    _audit("job.discard", job)
    flash(f"{job.job} discarded: that work will not be done.")
    return redirect(url_for("staff.jobs_page"))
