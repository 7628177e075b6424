"""Comment threads: write and reply, edit one's own, report to moderation, hide, dismiss reports."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import permissions, services
from ..errors import ServiceError
from ..extensions import db
from ..ids import parse_id
from ..models import Comment, CommentReport
from . import bp
from .common import flash_error, recommendation_or_404, signed_in
from .forms import ButtonForm, CommentForm, EditCommentForm, ReasonForm


def back_to(comment: Comment):
    rec = comment.recommendation
    tab = {"tab": "internal"} if comment.visibility == "internal" else {}
    return redirect(url_for("web.recommendation", slug=rec.process.slug, number=rec.number, **tab)
                    + f"#comment-{comment.id}")


def refused(error: ServiceError):
    """Forbidden and not-found end on their error page; anything else is said on the page it came from."""
    db.session.rollback()
    if error.status in (403, 404):
        abort(error.status)
    flash_error(error)


def readable_comment_or_404(comment_id: int) -> Comment:
    comment = db.session.get(Comment, comment_id)
    if comment is None:
        abort(404)
    shown = recommendation_or_404(comment.recommendation.process.slug, comment.recommendation.number)
    if not permissions.can_read_comment(shown.roles, comment):
        abort(404)
    return comment


@bp.post("/processes/<slug>/recommendations/<id:number>/comments")
@signed_in
def create_comment(slug: str, number: int):
    shown = recommendation_or_404(slug, number)
    form = CommentForm()
    if not form.validate():
        flash(_("A comment needs some text."), "error")
        return redirect(url_for("web.recommendation", slug=slug, number=number))
    parent = parse_id(form.parent_id.data)
    try:
        comment = services.create_comment(shown.rec.id, current_user, form.body.data, parent,
                                          form.visibility.data or "public")
    except ServiceError as error:
        refused(error)
        return redirect(url_for("web.recommendation", slug=slug, number=number))
    flash(_("Your comment is published.") if comment.visibility == "public" else _("Your internal note is saved."), "success")
    return back_to(comment)


@bp.route("/comments/<id:comment_id>/edit", methods=["GET", "POST"])
@signed_in
def edit_comment(comment_id: int):
    comment = readable_comment_or_404(comment_id)
    if not permissions.can_edit_comment(current_user.id, comment):
        abort(403)
    form = EditCommentForm(obj=comment)
    if form.validate_on_submit():
        try:
            services.edit_comment(comment_id, current_user, form.body.data)
        except ServiceError as error:
            refused(error)
        else:
            flash(_("Your comment is changed; the earlier text is kept."), "success")
            return back_to(comment)
    return render_template("comments/edit.html", form=form, comment=comment)


def reasoned(comment_id: int, action, missing: str, done: str):
    """A moderation step on a comment that needs a reason (report, hide)."""
    comment = readable_comment_or_404(comment_id)
    form = ReasonForm()
    if not form.validate():
        flash(missing, "error")
    else:
        try:
            action(comment_id, current_user, form.reason.data)
        except ServiceError as error:
            refused(error)
        else:
            flash(done, "success")
    return back_to(comment)


@bp.post("/comments/<id:comment_id>/report")
@signed_in
def report_comment(comment_id: int):
    return reasoned(comment_id, services.report_comment, _("Please say why you report this comment."),
                    _("Thank you. Moderation will look at this comment."))


@bp.post("/comments/<id:comment_id>/hide")
@signed_in
def hide_comment(comment_id: int):
    return reasoned(comment_id, services.hide_comment,
                    _("Hiding a comment needs a reason; it is shown in the comment's place."),
                    _("The comment is hidden; your reason is shown in its place."))


@bp.post("/reports/<id:report_id>/dismiss")
@signed_in
def dismiss_report(report_id: int):
    report = db.session.get(CommentReport, report_id)
    if report is None or not ButtonForm().validate():
        abort(404 if report is None else 400)
    try:
        services.dismiss_report(report_id, current_user)
    except ServiceError as error:
        refused(error)
    else:
        flash(_("The report is dismissed; the comment stays."), "success")
    return back_to(report.comment)
