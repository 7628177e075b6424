"""Notifications in the browser: the bell, the list, the settings, following, the landing page after
sign-in, one-click unsubscribe, and setting a password through an invitation or reset link."""

from __future__ import annotations

import threading
import time

from flask import Flask, abort, after_this_request, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l, ngettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import permissions, queries, services, statistics
from ..errors import NotFound, ServiceError
from ..extensions import csrf, db
from ..models import NOTIFICATION_KINDS, REQUESTED, Comment, CommentReport, Mail, Recommendation, RecommendationAuthor
from ..notify.text import PAGE_CAP, described, unread_count, visible_ids, visible_notifications
from ..roles import roles_for
from ..security import limiter
from ..workflow import engine
from . import bp, kept
from .auth import refusal, refused
from .common import locale, page_number, process_or_404, recommendation_or_404, signed_in, superuser_only
from .forms import ButtonForm, ForgotPasswordForm, NewPasswordForm, NotificationSettingsForm
from .queues import waiting_for


@bp.app_context_processor
def bell():
    def following(recommendation_id=None, process_id=None) -> bool:
        return services.follows(current_user.id if current_user.is_authenticated else None, recommendation_id, process_id)

    if current_user.is_authenticated:
        return {"unread_notifications": unread_count(current_user), "following": following}
    return {"unread_notifications": 0, "following": following}


PER_PAGE = 50


@bp.get("/notifications")
@signed_in
def notifications():
    """A person's notifications, newest first, PER_PAGE a page; only those they may still see (the
    newest PAGE_CAP of them)."""
    page = page_number()
    ids = visible_ids(current_user, limit=PAGE_CAP)
    shown = described(current_user, locale(), ids[(page - 1) * PER_PAGE : page * PER_PAGE])
    pages = max(1, -(-len(ids) // PER_PAGE))
    return render_template("notifications/list.html", items=shown, form=ButtonForm(), page=page, pages=pages)


def _back_to_page():
    """The list again, on the page the form was sent from."""
    raw = request.form.get("page", "")
    page = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 8 and int(raw) > 1 else None
    return redirect(url_for("web.notifications", page=page))


@bp.post("/notifications/read")
@signed_in
def notifications_read():
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    raw = request.form.get("id")
    if raw is None:
        count = services.mark_read(current_user)
        flash(_("All notifications are marked read."), "success")
    else:
        if not (raw.isascii() and raw.isdigit() and len(raw) < 12):
            abort(400)
        count = services.mark_read(current_user, [int(raw)])
        if count:
            flash(_("Marked read."), "success")
    return _back_to_page()


@bp.route("/notifications/settings", methods=["GET", "POST"])
@signed_in
def notification_settings():
    current = services.notification_modes(current_user.id)
    form = kept.form("notification-settings", NotificationSettingsForm, data={**current, "language": current_user.language or ""})
    if form.validate_on_submit():
        try:
            services.save_notification_settings(
                current_user, {kind: getattr(form, kind).data for kind in NOTIFICATION_KINDS}, form.language.data
            )
        except ServiceError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            flash(_("Your notification settings are saved."), "success")
            return redirect(url_for("web.notification_settings"))
    if form.is_submitted():
        response = kept.again("notification-settings", form)  # post/redirect/get
        if response is not None:
            return response
    return render_template(
        "notifications/settings.html",
        form=form,
        kinds=NOTIFICATION_KINDS,
        affiliation_groups_offered=bool(statistics.affiliation_groups()),
    )


def _followed() -> str:
    """What following means for this person: it depends on how they chose to get news of what they follow."""
    mode = services.notification_modes(current_user.id).get("followed")
    if mode == "immediate":
        return _("You follow this now: news of it comes by e-mail as it happens.")
    if mode == "off":
        return _("You follow this now: news of it is on your notifications page (e-mail is turned off for it).")
    return _("You follow this now: news of it comes in your daily summary.")


@bp.post("/processes/<slug>/recommendations/<id:number>/<any(follow, unfollow):change>")
@signed_in
def follow_recommendation(slug: str, number: int, change: str):
    shown = recommendation_or_404(slug, number)
    if not ButtonForm().validate_on_submit():
        abort(400)
    (services.follow if change == "follow" else services.unfollow)(current_user, recommendation_id=shown.rec.id)
    flash(_followed() if change == "follow" else _("You no longer follow this."), "success")
    return redirect(url_for("web.recommendation", slug=slug, number=number))


@bp.post("/processes/<slug>/<any(follow, unfollow):change>")
@signed_in
def follow_process(slug: str, change: str):
    process = process_or_404(slug)
    if not ButtonForm().validate_on_submit():
        abort(400)
    (services.follow if change == "follow" else services.unfollow)(current_user, process_id=process.id)
    flash(_followed() if change == "follow" else _("You no longer follow this."), "success")
    return redirect(url_for("web.process", slug=slug))


@bp.get("/home")
@signed_in
def home():
    """What waits for the person: their turn, their statements, reports to them, and news."""
    conditions = []
    for role in ("moderator", "administrator", "member"):
        processes, condition = waiting_for(role)
        if processes:
            conditions.append(condition)
    authored = select(RecommendationAuthor.recommendation_id).where(RecommendationAuthor.user_id == current_user.id)
    candidates = db.session.scalars(
        select(Recommendation)
        .where(Recommendation.id.in_(authored))
        .order_by(Recommendation.updated_at.desc())
        .limit(200)
        .options(selectinload(Recommendation.process), selectinload(Recommendation.author_links))
    ).all()
    extra = []
    for condition in conditions:
        extra.extend(
            db.session.scalars(
                select(Recommendation)
                .where(condition)
                .order_by(Recommendation.state_entered_at)
                .limit(200)
                .options(selectinload(Recommendation.process), selectinload(Recommendation.author_links))
            ).all()
        )
    turn, seen = [], set()
    for rec in [*candidates, *extra]:
        if rec.id in seen:
            continue
        seen.add(rec.id)
        workflow = engine().get(rec.process.workflow_id)
        roles = roles_for(current_user, rec)
        if permissions.can_view(roles, workflow, rec.state) and engine().allowed(workflow.id, rec.state, roles):
            turn.append((rec, workflow))
    statements, _total = queries.department_queue_page(current_user, REQUESTED, 0, 50)  # what waits, overdue first
    moderated = [p.id for p in waiting_for("moderator")[0]]
    reports = (
        db.session.scalars(
            select(CommentReport)
            .join(Comment)
            .join(Recommendation)
            .where(CommentReport.resolved_at.is_(None), Recommendation.process_id.in_(moderated))
            .order_by(CommentReport.created_at)
            .limit(100)
        ).all()
        if moderated
        else []
    )
    news = [item for item in visible_notifications(current_user, locale(), limit=20) if item[0].read_at is None]
    return render_template("notifications/home.html", turn=turn, statements=statements, reports=reports, news=news)


# -- without signing in -------------------------------------------------------------------


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: mail clients POST without a session; the signed token is the authority
# Only links that are not ours count against the limit: big mail providers send the one-click POSTs
# of all their users from a few shared addresses, and a valid token is signed (nothing to guess).
@limiter.limit("30 per minute", deduct_when=lambda response: response.status_code == 404)
def unsubscribe(token: str):
    try:
        user, scope = services.notifications.read_unsubscribe_token(token)
    except NotFound:
        abort(404)
    if request.method == "POST":
        _user, kinds = services.unsubscribe(token)
        if request.form.get("List-Unsubscribe") == "One-Click":
            return "", 204
        return render_template("notifications/unsubscribed.html", kinds=kinds)
    return render_template("notifications/unsubscribe.html", scope=scope, token=token)


#: The name of the thread that does a reset request's work (tests wait for it by this name).
RESET_THREAD = "password-reset"
#: Seconds the thread waits before it starts: the server closes the connection meanwhile.
RESET_HEAD_START = 0.05


def _reset_in_own_context(app: Flask, email: str) -> None:
    """The deferred work of a reset request, in its own thread with an application context (and
    database session) of its own: the request's context has ended by then. A failure is logged,
    never lost in silence (the person was told a mail is on its way; an operator must learn why
    none came). It first lets go of the interpreter for a moment (``RESET_HEAD_START``): started
    just before the server closes the connection, a thread that went straight to work would hold
    Python's lock while the server's thread waits for it to close the socket, longer for a known
    address (more work) than for an unknown one, and the end of the connection would tell again."""
    time.sleep(RESET_HEAD_START)
    with app.app_context():
        try:
            services.request_password_reset(email)
        except Exception:
            app.logger.exception("a requested password reset could not be queued")
            db.session.rollback()  # the context's end removes the session either way


def _start_reset(app: Flask, email: str) -> None:
    """Hand the work to a thread of its own and return at once. Not a daemon: a server that stops
    gracefully lets it finish instead of losing a link the person was told is on its way."""
    try:
        threading.Thread(target=_reset_in_own_context, args=(app, email), name=RESET_THREAD).start()
    except Exception:  # no thread to be had (the process is at its limit): said, never silent
        app.logger.exception("a requested password reset could not be queued")


def reset_after_response(email: str) -> None:
    """Ask for a reset link without the answer, or the end of its connection, waiting for it.
    Looking the address up, checking for a recent link and writing the link and its mail cost a
    known address about 7 ms that an unknown one did not: done before the response, the answer's
    time told whether an account has the address. Done in ``call_on_close`` itself, it still ran
    before gunicorn's sync worker closed the socket, so a client reading until the connection ends
    saw the same difference. So when the response is closed, both kinds of address only start a
    short-lived thread (the same work for both) that does the rest, and the server closes the
    connection at once."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    @after_this_request
    def later(response):
        response.call_on_close(lambda: _start_reset(app, email))
        return response


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("10 per minute; 50 per hour", methods=["POST"])
def forgot_password():
    form, _wait = refusal("forgot", ForgotPasswordForm)
    if form.validate_on_submit():
        # The same answer, in the same time, whether or not the address has an account: the lookup
        # and the write happen in a thread of their own once the response is done (reset_after_response).
        reset_after_response(form.email.data)
        flash(_("If an account has this address, an e-mail with a link to choose a new password is on its way."), "info")
        return redirect(url_for("web.login"))
    if request.method == "POST":  # post/redirect/get, the typed address kept
        response = refused("forgot", form, url_for("web.forgot_password"))
        if response is not None:
            return response
    return render_template("auth/forgot.html", form=form)


@bp.route("/password/<secret>", methods=["GET", "POST"])
@limiter.limit("20 per minute")
def set_password(secret: str):
    try:
        token = services.token_for(secret)
    except NotFound:
        return render_template("auth/link_invalid.html"), 404
    form, _wait = refusal("set-password", NewPasswordForm)
    if form.validate_on_submit():
        try:
            services.set_password_with_link(secret, form.new.data)
        except NotFound:
            return render_template("auth/link_invalid.html"), 404
        except ServiceError as error:
            db.session.rollback()
            form.new.errors.append(error.message)
        else:
            flash(_("Your password is set. You were signed out everywhere; sign in with the new password."), "success")
            return redirect(url_for("web.login"))
    if request.method == "POST":  # post/redirect/get: the errors kept, the password never
        response = refused("set-password", form, url_for("web.set_password", secret=secret))
        if response is not None:
            return response
    return render_template("auth/set_password.html", form=form, invitation=token.purpose == "invitation", name=token.user.name)


#: A mail's status in words (models.MAIL_STATUSES), in the order of its life.
MAIL_STATUS_NAMES = {
    "pending": _l("queued"),
    "sending": _l("being sent"),
    "sent": _l("sent"),
    "failed": _l("failed"),
    "skipped": _l("skipped"),
}
#: What a mail is, in words: the kinds of notification as on the settings page, and the others.
MAIL_KIND_NAMES = {
    "your_turn": _l("A recommendation waits for a step of mine"),
    "authored": _l("A recommendation I wrote moved on"),
    "statement": _l("My department is asked for a statement"),
    "reply": _l("Someone replied to my comment"),
    "deadline": _l("A decision I take part in is due soon or overdue"),
    "report": _l("A comment was reported (moderators)"),
    "followed": _l("Activity on what I follow"),
    "digest": _l("Daily summary"),
    "invitation": _l("Invitation"),
    "password_reset": _l("Password reset link"),
    "intake_confirmation": _l("Confirmation of a concern"),
    "intake_confirmed": _l("Concern received"),
}


@bp.get("/admin/outbox")
@superuser_only
def admin_outbox():
    """Superusers see what is queued, being sent, failed or recently sent; an unknown status is said."""
    status = request.args.get("status", "")
    problem = None
    query = select(Mail).order_by(Mail.id.desc()).limit(200)
    if status in MAIL_STATUS_NAMES:
        query = query.where(Mail.status == status)
    elif status:
        problem = _(
            "Unknown status; choose one of: %(names)s.", names=", ".join(str(name) for name in MAIL_STATUS_NAMES.values())
        )
        status = ""
    mails = db.session.scalars(query).all() if problem is None else []
    return render_template(
        "admin/outbox.html",
        mails=mails,
        status=status,
        problem=problem,
        status_names=MAIL_STATUS_NAMES,
        kind_names=MAIL_KIND_NAMES,
        requeueable=services.notifications.REQUEUEABLE,
        form=ButtonForm(),
    ), 400 if problem else 200


def _back_to_outbox():
    """The outbox again, with the status filter the form was sent from."""
    status = request.form.get("status", "")
    return redirect(url_for("web.admin_outbox", status=status if status in MAIL_STATUS_NAMES else None))


@bp.post("/admin/outbox/<id:mail_id>/requeue")
@superuser_only
def admin_outbox_requeue(mail_id: int):
    """Send a failed mail again (same Message-ID); anything else is said and changes nothing."""
    if not ButtonForm().validate():
        abort(400)
    try:
        mail = services.notifications.requeue_mail(current_user, mail_id)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")  # which mail, and why not: said by the service
    else:
        flash(_("E-mail #%(id)s is queued again; the worker sends it shortly.", id=mail.id), "success")
    return _back_to_outbox()


@bp.post("/admin/outbox/requeue-failed")
@superuser_only
def admin_outbox_requeue_failed():
    """Send every failed mail again."""
    if not ButtonForm().validate():
        abort(400)
    count = services.notifications.requeue_failed(current_user)
    if count:
        flash(
            ngettext("%(num)d failed e-mail is queued again.", "%(num)d failed e-mails are queued again.", count),
            "success",
        )
    else:
        flash(_("No e-mail has failed; nothing was queued again."), "error")
    return _back_to_outbox()
