"""Administration for superusers: people, processes, roles, and the audit log."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_timezone, gettext as _, lazy_gettext as _l, ngettext
from flask_login import current_user
from sqlalchemy import select

from .. import audit, permissions, services, timeline
from ..disclosure import Reader
from ..errors import ServiceError
from ..extensions import db
from ..ids import parse_id
from ..models import (
    AuditEvent,
    Comment,
    CommentReport,
    Department,
    FollowUp,
    Membership,
    Process,
    Recommendation,
    Statement,
    SteeringSession,
    User,
    email_key,
)
from ..workflow import engine
from . import bp, kept
from .common import ROLE_NAMES, flash_error, label, noun, process_or_404, superuser_only
from .forms import ButtonForm, EraseForm, GrantForm, InviteForm, ProcessForm, UserForm, options
from .procedures import overview_form

AUDIT_PAGE = 50
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@bp.route("/admin/users", methods=["GET", "POST"])
@superuser_only
def admin_users():
    form = kept.form("user", UserForm)
    if form.is_submitted():
        if form.validate():
            try:
                user, password = services.create_user(
                    form.email.data, form.name.data, superuser=form.superuser.data, actor=current_user
                )
            except ServiceError as error:
                db.session.rollback()
                flash_error(error)
            else:
                flash(
                    _(
                        "%(email)s can now sign in with the password %(password)s. It is shown only now; pass it on safely.",
                        email=user.email,
                        password=password,
                    ),
                    "success",
                )
                return redirect(url_for("web.admin_users"))
        response = kept.again("user", form)
        if response is not None:
            return response
    users = db.session.scalars(select(User).order_by(User.name)).all()
    invite = kept.form("invite", InviteForm, prefix="invite") if request.method == "GET" else InviteForm(prefix="invite")
    return render_template("admin/users.html", form=form, users=users, invite=invite)


@bp.post("/admin/users/invite")
@superuser_only
def admin_invite():
    """Create an account and e-mail its holder a single-use link to choose a password."""
    invite = InviteForm(prefix="invite")
    if invite.validate_on_submit():
        try:
            user = services.invite_user(invite.email.data, invite.name.data, actor=current_user)
        except ServiceError as error:
            db.session.rollback()
            flash_error(error)
        else:
            flash(
                _("%(email)s is invited: an e-mail with a link to choose a password is on its way.", email=user.email), "success"
            )
            return redirect(url_for("web.admin_users"))
    else:
        flash(_("Give an e-mail address and a name."), "error")
    # Back to the people page with what was typed (post/redirect/get); too large to keep: answered at once.
    response = kept.back("invite", url_for("web.admin_users"), invite)
    if response is not None:
        return response
    users = db.session.scalars(select(User).order_by(User.name)).all()
    return render_template("admin/users.html", form=UserForm(formdata=None), users=users, invite=invite), 422


def _confirm_page(title: str, consequences: str, action: str, button: str, cancel: str):
    """The second step of a destructive button: what it does, then the button that does it (the
    form carries ``confirm=yes``); works without script."""
    return render_template(
        "admin/confirm.html", title=title, consequences=consequences, action=action, button=button, cancel=cancel
    )


@bp.get("/admin/users/<id:user_id>/deactivate")
@superuser_only
def admin_user_deactivate(user_id: int):
    user = db.session.get(User, user_id)
    if user is None or user.erased_at is not None:
        abort(404)
    return _confirm_page(
        _("Deactivate %(name)s?", name=user.name),
        _(
            "%(name)s can no longer sign in; their sessions and API tokens stop working at once. You can reactivate them later.",
            name=user.name,
        ),
        url_for("web.admin_user_active", user_id=user.id, change="deactivate"),
        _("Deactivate %(name)s", name=user.name),
        url_for("web.admin_users"),
    )


@bp.post("/admin/users/<id:user_id>/<any(activate, deactivate):change>")
@superuser_only
def admin_user_active(user_id: int, change: str):
    if not ButtonForm().validate():
        abort(400)
    if change == "deactivate" and request.form.get("confirm") != "yes":
        # Not confirmed yet: nothing changes; the confirmation page says what it would do.
        return redirect(url_for("web.admin_user_deactivate", user_id=user_id), code=303)
    try:
        user = services.set_active(current_user, user_id, change == "activate")
    except ServiceError as error:
        db.session.rollback()
        flash_error(error)
    else:
        flash(
            _("%(name)s can sign in again.", name=user.name)
            if user.active
            else _("%(name)s is deactivated: their sessions and API tokens stop working.", name=user.name),
            "success",
        )
    return redirect(url_for("web.admin_users"))


@bp.route("/admin/users/<id:user_id>/erase", methods=["GET", "POST"])
@superuser_only
def admin_user_erase(user_id: int):
    """Erase a person (docs/auditing.md#erasure), after the superuser typed their e-mail address."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    if user.erased_at is not None:
        flash(_("This person is erased already."), "error")
        return redirect(url_for("web.admin_users"))
    form = kept.form("erase", EraseForm)
    status = 422 if form.errors else 200  # refused a moment ago: shown with its error
    if form.validate_on_submit():
        if email_key(form.confirm.data) != user.email_key:  # the same account, as sign-in finds it
            form.confirm.errors.append(_("This is not the person's e-mail address; nothing was erased."))
            status = 422
        else:
            try:
                done = services.erase_user(user.id, actor=current_user)
            except ServiceError as error:
                db.session.rollback()
                flash_error(error)
            else:
                flash(
                    ngettext(
                        "The person is erased and now appears as “%(pseudonym)s”; %(num)d audit payload "
                        "holding their data was erased.",
                        "The person is erased and now appears as “%(pseudonym)s”; %(num)d audit payloads "
                        "holding their data were erased.",
                        len(done.erased),
                        pseudonym=timeline.person(done.pseudonym),
                    ),
                    "success",
                )
                if done.v1_kept:
                    flash(
                        ngettext(
                            "%(num)d older audit event (format v1) holds their data and cannot be erased "
                            "without breaking the chain.",
                            "%(num)d older audit events (format v1) hold their data and cannot be erased "
                            "without breaking the chain.",
                            done.v1_kept,
                        ),
                        "info",
                    )
                for path in done.mail_files_left:
                    flash(
                        _(
                            "The mail file %(path)s could not be checked or changed: remove it by hand if it names the person.",
                            path=path,
                        ),
                        "error",
                    )
                return redirect(url_for("web.admin_users"))
    if request.method == "POST":
        response = kept.again("erase", form)  # post/redirect/get, what was typed kept
        if response is not None:
            return response
        status = 422
    return render_template("admin/erase.html", form=form, user=user), status


@bp.route("/admin/processes", methods=["GET", "POST"])
@superuser_only
def admin_processes():
    form = kept.form("process", ProcessForm)
    form.workflow.choices = options((wid, label(wf.title)) for wid, wf in sorted(engine().workflows.items()))
    if form.is_submitted():
        if form.validate():
            try:
                process = services.create_process(form.slug.data, form.title.data, form.workflow.data, actor=current_user)
            except ServiceError as error:
                db.session.rollback()
                flash_error(error)
            else:
                flash(_("The process “%(title)s” is created. Now give people their roles.", title=process.title), "success")
                return redirect(url_for("web.admin_process", slug=process.slug))
        response = kept.again("process", form)
        if response is not None:
            return response
    processes = db.session.scalars(select(Process).order_by(Process.title)).all()
    return render_template("admin/processes.html", form=form, processes=processes)


@bp.route("/admin/processes/<slug>", methods=["GET", "POST"])
@superuser_only
def admin_process(slug: str):
    process = process_or_404(slug)
    form = kept.form("grant", GrantForm)
    form.user_id.choices = options(
        (u.id, f"{u.name} <{u.email}>")
        for u in db.session.scalars(select(User).where(User.active.is_(True), User.resident.is_(False)).order_by(User.name))
    )
    form.role.choices = options((role, ROLE_NAMES[role]) for role in permissions.PROCESS_ROLES)
    if form.is_submitted():
        if form.validate():
            user = db.session.get(User, form.user_id.data)
            if user is None:
                abort(400)
            try:
                granted = services.grant_role(process, user, form.role.data, actor=current_user)
            except ServiceError as error:
                db.session.rollback()
                flash_error(error)
            else:
                flash(
                    _("%(name)s is now %(role)s.", name=user.name, role=ROLE_NAMES[form.role.data])
                    if granted
                    else _("%(name)s already had that role.", name=user.name),
                    "success" if granted else "info",
                )
                return redirect(url_for("web.admin_process", slug=slug))
        response = kept.again("grant", form)
        if response is not None:
            return response
    memberships = db.session.scalars(
        select(Membership).where(Membership.process_id == process.id).order_by(Membership.role, Membership.id)
    ).all()
    return render_template(
        "admin/process.html", process=process, form=form, memberships=memberships, overview_form=overview_form(process)
    )


@bp.get("/admin/processes/<slug>/memberships/<id:membership_id>/revoke")
@superuser_only
def admin_revoke_confirm(slug: str, membership_id: int):
    membership = db.session.get(Membership, membership_id)
    if membership is None or membership.process.slug != slug:
        abort(404)
    role, name = ROLE_NAMES[membership.role], membership.user.name
    return _confirm_page(
        _("Revoke %(role)s from %(name)s?", role=role, name=name),
        _(
            "%(name)s loses what the role %(role)s allows in “%(process)s” at once.",
            name=name,
            role=role,
            process=membership.process.title,
        ),
        url_for("web.admin_revoke", slug=slug, membership_id=membership_id),
        _("Revoke %(role)s from %(name)s", role=role, name=name),
        url_for("web.admin_process", slug=slug),
    )


@bp.post("/admin/processes/<slug>/memberships/<id:membership_id>/revoke")
@superuser_only
def admin_revoke(slug: str, membership_id: int):
    membership = db.session.get(Membership, membership_id)
    if membership is None or membership.process.slug != slug or not ButtonForm().validate():
        abort(404 if membership is None else 400)
    if request.form.get("confirm") != "yes":
        return redirect(url_for("web.admin_revoke_confirm", slug=slug, membership_id=membership_id), code=303)
    user, role = membership.user, membership.role
    try:
        services.revoke_role(membership.process, user, role, actor=current_user)
    except ServiceError as error:
        db.session.rollback()
        flash_error(error)
    else:
        flash(_("%(name)s is no longer %(role)s.", name=user.name, role=ROLE_NAMES[role]), "success")
    return redirect(url_for("web.admin_process", slug=slug))


@bp.get("/admin/audit")
@superuser_only
def admin_audit():
    query = select(AuditEvent)
    action = request.args.get("action") or None
    actor = request.args.get("actor", "")
    start, end = request.args.get("from", ""), request.args.get("to", "")
    if action:
        query = query.where(AuditEvent.action == action)
    if parse_id(actor):
        query = query.where(AuditEvent.actor_id == parse_id(actor))
    errors = {}
    for value, name in ((start, "from"), (end, "to")):
        day = iso_date(value)
        if value and day is None:
            errors[name] = _("Write the date as YYYY-MM-DD, for example 2026-11-21.")
        elif day is not None:  # from the day's first moment (inclusive) to the next day's (exclusive)
            bound = audit.timestamp(day_begins(day if name == "from" else day + timedelta(days=1)))
            query = query.where(AuditEvent.at >= bound if name == "from" else AuditEvent.at < bound)
    before = request.args.get("before", "")
    if parse_id(before):
        query = query.where(AuditEvent.seq < parse_id(before))
    events = [] if errors else db.session.scalars(query.order_by(AuditEvent.seq.desc()).limit(AUDIT_PAGE)).all()
    actions = db.session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)).all()
    people = db.session.scalars(select(User).order_by(User.name)).all()
    # Superusers administer people, roles and tokens, but read what an event about a recommendation
    # or comment says only with a role in its process that lets them (docs/auditing.md).
    # A filter by person must not tell who made a report either.
    shown = [
        (event, s) for event, s in zip(events, Reader(current_user).judge(events), strict=True) if s.actor or not parse_id(actor)
    ]
    return render_template(
        "admin/audit.html",
        events=shown,
        subjects=subjects([event for event, _s in shown]),
        action_name=timeline.action_name,
        actions=actions,
        people=people,
        action=action,
        actor=actor,
        start=start,
        end=end,
        more=len(events) == AUDIT_PAGE and bool(shown),
        errors=errors,
        when=when,
    ), 400 if errors else 200


def subjects(events: list[AuditEvent]) -> dict[tuple[str, int], tuple[str, str | None]]:
    """What each event is about, as the pages call it (the recommendation's number in its process, not
    its row id), with the page to open. Numbers and process titles only: what a draft says stays on its
    page, which checks who may read it."""
    ids: dict[str, set[int]] = {}
    for event in events:
        if event.subject_id is not None:
            ids.setdefault(event.subject_type, set()).add(event.subject_id)

    def rows(model, kind):
        return db.session.scalars(select(model).where(model.id.in_(ids[kind]))).all() if ids.get(kind) else []

    reports = {r.id: r.comment_id for r in rows(CommentReport, "comment_report")}
    comments = {c.id: c.recommendation_id for c in rows(Comment, "comment")}
    missing = set(reports.values()) - comments.keys()
    if missing:
        comments |= dict(
            db.session.execute(select(Comment.id, Comment.recommendation_id).where(Comment.id.in_(missing))).tuples().all()
        )
    statements = {st.id: st.recommendation_id for st in rows(Statement, "statement")}
    reports_on = {f.id: f.recommendation_id for f in rows(FollowUp, "follow_up")}
    rec_ids = ids.get("recommendation", set()) | set(comments.values()) | set(statements.values()) | set(reports_on.values())
    recs = (
        {rec.id: rec for rec in db.session.scalars(select(Recommendation).where(Recommendation.id.in_(rec_ids))).all()}
        if rec_ids
        else {}
    )

    def rec_link(rec_id: int, anchor: str = "") -> tuple[str, str | None]:
        rec = recs.get(rec_id)
        if rec is None:
            return _("Recommendation (removed)"), None
        word = noun(rec.process, capital=True)
        return f"{word} {rec.number}", url_for("web.recommendation", slug=rec.process.slug, number=rec.number) + anchor

    found: dict[tuple[str, int], tuple[str, str | None]] = {}
    for rec_id in ids.get("recommendation", ()):
        found[("recommendation", rec_id)] = rec_link(rec_id)
    for comment_id, rec_id in comments.items():
        text, url = rec_link(rec_id, f"#comment-{comment_id}")
        found[("comment", comment_id)] = (_("Comment %(id)s on %(what)s", id=comment_id, what=text), url)
    for report_id, comment_id in reports.items():
        text, url = rec_link(comments[comment_id], f"#comment-{comment_id}") if comment_id in comments else ("?", None)
        found[("comment_report", report_id)] = (_("Report on comment %(id)s on %(what)s", id=comment_id, what=text), url)
    for statement_id, rec_id in statements.items():
        text, url = rec_link(rec_id, f"#statement-{statement_id}")
        found[("statement", statement_id)] = (_("Statement on %(what)s", what=text), url)
    for follow_up_id, rec_id in reports_on.items():
        text, url = rec_link(rec_id, f"#follow-up-{follow_up_id}")
        found[("follow_up", follow_up_id)] = (_("Implementation report on %(what)s", what=text), url)
    for process in rows(Process, "process"):
        found[("process", process.id)] = (process.title, url_for("web.process", slug=process.slug))
    for meeting in rows(SteeringSession, "session"):
        found[("session", meeting.id)] = (_("Session %(id)s", id=meeting.id), url_for("web.session", session_id=meeting.id))
    for user in rows(User, "user"):
        found[("user", user.id)] = (timeline.person(user.name), None)
    for department in rows(Department, "department"):
        found[("department", department.id)] = (department.name, url_for("web.admin_department", slug=department.slug))
    for kind, kind_ids in ids.items():  # the rest (or a row since removed) by what it is and its number
        for subject_id in kind_ids:
            found.setdefault((kind, subject_id), (f"{SUBJECT_NAMES.get(kind, kind)} {subject_id}", None))
    return found


#: What an event can be about, in words, for those the audit log names by their number.
SUBJECT_NAMES = {
    "recommendation": _l("Recommendation"),
    "comment": _l("Comment"),
    "comment_report": _l("Report"),
    "statement": _l("Statement"),
    "follow_up": _l("Implementation report"),
    "process": _l("Process"),
    "session": _l("Session"),
    "user": _l("Person"),
    "membership": _l("Role in a process"),
    "department": _l("Department"),
    "department_member": _l("Membership in a department"),
    "category": _l("Category"),
    "submission": _l("Concern sent through the contact point"),
    "api_token": _l("API token"),
    "chain_check": _l("Verification of the chain"),
}


def iso_date(value: str) -> date | None:
    """A date written YYYY-MM-DD, nothing else (``date.fromisoformat`` also takes 20261121), in
    years whose days a time zone can shift without leaving the calendar."""
    if not ISO_DATE.fullmatch(value):
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return day if 1 < day.year < 9999 else None


def day_begins(day: date) -> datetime:
    """The first moment of ``day`` in the installation's time zone (as the page shows times)."""
    zone = get_timezone()
    midnight = datetime.combine(day, time())
    moment = zone.localize(midnight) if hasattr(zone, "localize") else midnight.replace(tzinfo=zone)  # pytz or zoneinfo
    return moment.astimezone(UTC)


def when(at: str) -> datetime:
    """A stored event time (``YYYY-MM-DDTHH:MM:SS.ffffffZ``) as the naive UTC the date filters take."""
    return datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ")


@bp.route("/admin/audit/verify", methods=["GET", "POST"])
@superuser_only
def admin_audit_verify():
    """The latest check of the whole chain, with its time, and a button that asks the worker for a
    new one: the check itself runs in ``ratschlag worker``, never inside this request."""
    form = ButtonForm()
    if request.method == "POST":
        if not form.validate():
            abort(400)
        _check, new = services.chain_checks.request_check(current_user)
        flash(
            _("The check was requested; the worker runs it shortly.") if new else _("A check is already waiting for the worker."),
            "success",
        )
        return redirect(url_for("web.admin_audit_verify"))
    return render_template(
        "admin/verify.html",
        result=services.chain_checks.latest(),
        waiting=services.chain_checks.waiting(),
        form=form,
    )
