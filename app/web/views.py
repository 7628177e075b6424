from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.security import check_password_hash

from .. import permissions, services
from ..errors import NotFound
from ..extensions import db
from ..models import Comment, Process, Recommendation
from . import bp
from .forms import LoginForm


@bp.app_context_processor
def labels():
    def label(value) -> str:
        return value.text(str(get_locale()), current_app.config["BABEL_DEFAULT_LOCALE"])
    return {"label": label, "get_locale": get_locale}


@bp.get("/")
def index():
    processes = db.session.scalars(select(Process).order_by(Process.title)).all()
    return render_template("index.html", processes=processes)


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = services.find_user(form.email.data)
        # One message for an unknown e-mail and a wrong password: nothing reveals who has an account.
        if user is not None and user.active and check_password_hash(user.password_hash, form.password.data):
            login_user(user, remember=form.remember.data)
            target = request.args.get("next", "")
            parts = urlsplit(target)
            if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc:
                target = url_for("web.index")
            return redirect(target)
        flash(_("E-mail or password is wrong."), "error")
    return render_template("login.html", form=form)


@bp.post("/logout")
def logout():
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("web.index"))


@bp.get("/processes/<slug>/recommendations/<int:number>")
def recommendation(slug: str, number: int):
    try:
        process = services.find_process(slug)
    except NotFound:
        abort(404)
    rec = db.session.scalars(
        select(Recommendation).where(Recommendation.process_id == process.id, Recommendation.number == number)
        .options(selectinload(Recommendation.author_links), selectinload(Recommendation.decision))
    ).first()
    if rec is None:
        abort(404)
    workflow = services.workflow_of(process)
    roles = permissions.roles_for(current_user, rec)
    if not permissions.can_view(roles, workflow, rec.state):
        abort(404)
    comments = [
        c for c in db.session.scalars(
            select(Comment).where(Comment.recommendation_id == rec.id).order_by(Comment.id)
        ).all()
        if permissions.can_read_comment(roles, c)
    ]
    children: dict[int | None, list[Comment]] = {}
    for comment in comments:
        children.setdefault(comment.parent_id, []).append(comment)
    return render_template(
        "recommendations/detail.html",
        process=process, rec=rec, workflow=workflow, state=workflow.states.get(rec.state),
        children=children, can_read_text=lambda c: permissions.can_read_comment_text(roles, c),
    )
