"""Comment threads: write and reply, edit one's own, report to moderation, hide, dismiss reports."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import permissions, services
from ..errors import ServiceError
from ..extensions import db
from ..ids import parse_id
from ..models import Comment, CommentReport
from . import bp, kept
from .common import flash_error, recommendation_or_404, signed_in
from .forms import ButtonForm, CommentForm, EditCommentForm, ReasonForm
from .views import render_recommendation


def back_to(comment: Comment):
    rec = comment.recommendation
    tab: dict[str, Any] = {"tab": "internal"} if comment.visibility == "internal" else {}
    return redirect(url_for("web.recommendation", slug=rec.process.slug, number=rec.number, **tab) + f"#comment-{comment.id}")


def refused(error: ServiceError):
    """Forbidden and not-found end on their error page; anything else is said on the page it came from."""
    db.session.rollback()
    if error.status in (403, 404):
        abort(error.status)
    flash_error(error)


def back_with_text(rec, name: str, field: str, about: int | None, anchor: str, problem: str | None = None):
    """Back to the recommendation after a refusal, keeping the text typed for the page to put back
    in its form (app/web/kept.py), with ``problem`` said at its field. Too long to keep: the page is
    shown at once, with it."""
    tab: dict[str, Any] = {"tab": "internal"} if request.form.get("visibility") == "internal" else {}
    target = url_for("web.recommendation", slug=rec.process.slug, number=rec.number, **tab)
    typed = request.form.get(field, "")
    response = kept.back(name, target, fields={field: [typed]}, about=about, problem=problem)
    if response is not None:
        response.location += anchor
        return response
    key = (name, about or 0)
    return render_recommendation(
        recommendation_or_404(rec.process.slug, rec.number), 422, kept_texts={key: typed}, kept_problems={key: problem}
    )


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
    parent = parse_id(form.parent_id.data)
    anchor = f"#comment-{parent}" if parent else "#new-comment"
    if not form.validate():
        problem = " ".join(str(e) for e in form.body.errors) if form.body.data else _("A comment needs some text.")
        flash(problem, "error")
        return back_with_text(shown.rec, "comment", "body", parent, anchor, problem)
    try:
        comment = services.create_comment(shown.rec.id, current_user, form.body.data, parent, form.visibility.data or "public")
    except ServiceError as error:
        refused(error)
        return back_with_text(shown.rec, "comment", "body", parent, anchor, error.message)
    flash(_("Your comment is published.") if comment.visibility == "public" else _("Your internal note is saved."), "success")
    return back_to(comment)


@bp.route("/comments/<id:comment_id>/edit", methods=["GET", "POST"])
@signed_in
def edit_comment(comment_id: int):
    comment = readable_comment_or_404(comment_id)
    if not permissions.can_edit_comment(current_user.id, comment):
        abort(403)
    form = EditCommentForm(obj=comment)
    if request.method == "POST":
        if form.validate():
            try:
                services.edit_comment(comment_id, current_user, form.body.data)
            except ServiceError as error:
                refused(error)
            else:
                flash(_("Your comment is changed; the earlier text is kept."), "success")
                return back_to(comment)
        response = kept.back("comment-edit", url_for("web.edit_comment", comment_id=comment_id), form)
        if response is not None:
            return response
    else:
        refusal = kept.take("comment-edit")
        form = kept.restore(EditCommentForm, refusal) if refusal else form
    return render_template("comments/edit.html", form=form, comment=comment), 422 if request.method == "POST" else 200


def reasoned(comment_id: int, name: str, action, missing: str, done: str):
    """A moderation step on a comment that needs a reason (report, hide)."""
    comment = readable_comment_or_404(comment_id)
    form = ReasonForm()
    if not form.validate():
        flash(" ".join(str(e) for e in form.reason.errors) if form.reason.data else missing, "error")
    else:
        try:
            action(comment_id, current_user, form.reason.data)
        except ServiceError as error:
            refused(error)
        else:
            flash(done, "success")
            return back_to(comment)
    return back_with_text(comment.recommendation, name, "reason", comment.id, f"#comment-{comment.id}")


@bp.post("/comments/<id:comment_id>/report")
@signed_in
def report_comment(comment_id: int):
    return reasoned(
        comment_id,
        "report",
        services.report_comment,
        _("Please say why you report this comment."),
        _("Thank you. Moderation will look at this comment."),
    )


@bp.post("/comments/<id:comment_id>/hide")
@signed_in
def hide_comment(comment_id: int):
    return reasoned(
        comment_id,
        "hide",
        services.hide_comment,
        _("Hiding a comment needs a reason; it is shown in the comment's place."),
        _("The comment is hidden; your reason is shown in its place."),
    )


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
