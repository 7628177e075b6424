"""Writing recommendations: create and edit with a preview, co-authors, earlier versions and diffs."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import exists, select
from sqlalchemy.orm import aliased

from .. import permissions, services, text
from ..errors import Conflict, ServiceError
from ..extensions import db
from ..ids import parse_id
from ..models import Membership, Recommendation, RecommendationRevision, User
from ..roles import process_roles
from ..services import categories
from ..services.recommendations import STEERING_ROLES
from ..textdiff import compare
from . import bp, kept
from .common import flash_error, process_or_404, recommendation_or_404, signed_in
from .forms import ButtonForm, CoauthorForm, RecommendationForm

SEARCH_LIMIT = 20  # people listed for one search; a longer name narrows it


def category_choices(form: RecommendationForm, process_id: int) -> bool:
    """Offer the process's categories (with "none" first); False when it has none."""
    offered = categories.categories(process_id)
    form.category.choices = [("", _("No category"))] + [(c.slug, c.name) for c in offered] if offered else []
    return bool(offered)


@bp.route("/processes/<slug>/new", methods=["GET", "POST"])
@signed_in
def new_recommendation(slug: str):
    process = process_or_404(slug)
    if not permissions.can_create(process_roles(current_user, process.id)):
        abort(403)
    form = RecommendationForm()
    has_categories = category_choices(form, process.id)
    preview = None
    if request.method == "POST":
        if form.validate():
            if form.preview.data:
                preview = text.render(form.body.data)
            else:
                try:
                    rec = services.create_recommendation(
                        process.id, current_user, form.title.data, form.body.data, form.category.data if has_categories else None
                    )
                except ServiceError as error:
                    db.session.rollback()
                    flash_error(error)
                else:
                    flash(_("Your draft is saved. Submit it when it is ready."), "success")
                    return redirect(url_for("web.recommendation", slug=slug, number=rec.number))
        # A preview or a refusal: back to this page with the text kept (app/web/kept.py).
        response = kept.back("recommendation", request.script_root + request.path, form, preview=preview is not None)
        if response is not None:
            return response
    else:
        refusal = kept.take("recommendation")
        if refusal:
            form = kept.restore(RecommendationForm, refusal)
            category_choices(form, process.id)
            preview = text.render(form.body.data) if refusal.get("preview") else None
    return render_template(
        "recommendations/edit.html", form=form, process=process, rec=None, preview=preview
    ), 200 if request.method == "GET" or preview is not None else 422


@bp.route("/processes/<slug>/recommendations/<id:number>/edit", methods=["GET", "POST"])
@signed_in
def edit_recommendation(slug: str, number: int):
    shown = recommendation_or_404(slug, number)
    if not permissions.can_edit(shown.roles, shown.workflow, shown.rec.state):
        abort(403)
    form = RecommendationForm(obj=shown.rec if request.method == "GET" else None)
    has_categories = category_choices(form, shown.process.id)
    if request.method == "GET":
        form.version.data = shown.rec.version
        form.category.data = shown.rec.category_slug or ""
    preview = theirs = None
    collided = False
    if request.method == "POST":
        if form.validate():
            if form.preview.data:
                preview = text.render(form.body.data)
            else:
                try:
                    services.update_recommendation(
                        shown.rec.id,
                        current_user,
                        parse_id(form.version.data),
                        form.title.data,
                        form.body.data,
                        form.category.data if has_categories else ...,
                    )
                except Conflict:
                    db.session.rollback()
                    collided = True
                    flash(
                        _(
                            "Someone else saved a new version while you were writing. Your text is kept below; "
                            "the differences to the saved version are marked. Save again to replace it."
                        ),
                        "error",
                    )
                except ServiceError as error:
                    db.session.rollback()
                    flash_error(error)
                else:
                    flash(_("Your changes are saved; the earlier version is kept."), "success")
                    return redirect(url_for("web.recommendation", slug=slug, number=number))
        # A preview or a refusal: back to this page with the text kept (app/web/kept.py).
        response = kept.back(
            "recommendation", request.script_root + request.path, form, preview=preview is not None, collided=collided
        )
        if response is not None:
            return response
    else:
        refusal = kept.take("recommendation")
        if refusal:
            form = kept.restore(RecommendationForm, refusal)
            category_choices(form, shown.process.id)
            preview = text.render(form.body.data) if refusal.get("preview") else None
            collided = bool(refusal.get("collided"))
    if collided:
        # Someone saved first: keep what this person typed, show the saved text beside it.
        current = db.session.get_one(Recommendation, shown.rec.id, populate_existing=True)
        theirs = compare(f"{current.title}\n\n{current.body}", f"{form.title.data}\n\n{form.body.data}")
        form.version.data = current.version
        # Who saved the text that is there now, and when: the newest revision.
        saved = db.session.scalars(
            select(RecommendationRevision)
            .where(RecommendationRevision.recommendation_id == current.id)
            .order_by(RecommendationRevision.revision.desc())
            .limit(1)
        ).first()
        saved_by = db.session.get(User, saved.author_id) if saved is not None and saved.author_id else None
        return render_template(
            "recommendations/edit.html",
            form=form,
            process=shown.process,
            rec=current,
            preview=None,
            theirs=theirs,
            too_different=theirs is None,
            collided=True,
            saved=saved,
            saved_by=saved_by,
        ), 200 if request.method == "GET" else 409
    return render_template(
        "recommendations/edit.html", form=form, process=shown.process, rec=shown.rec, preview=preview, theirs=theirs
    ), 200 if request.method == "GET" or preview is not None else 422


@bp.get("/processes/<slug>/recommendations/<id:number>/versions")
def versions(slug: str, number: int):
    shown = recommendation_or_404(slug, number)
    revisions = db.session.scalars(
        select(RecommendationRevision)
        .where(RecommendationRevision.recommendation_id == shown.rec.id)
        .order_by(RecommendationRevision.revision)
    ).all()
    by_number = {r.revision: r for r in revisions}
    authors = {
        u.id: u
        for u in db.session.scalars(select(User).where(User.id.in_({r.author_id for r in revisions if r.author_id}))).all()
    }
    newest = revisions[-1].revision if revisions else 1
    a, b = parse_id(request.args.get("a", newest - 1)), parse_id(request.args.get("b", newest))
    diff, too_different = None, False
    if a in by_number and b in by_number and a != b:
        old, new = by_number[a], by_number[b]
        diff = compare(f"{old.title}\n\n{old.body}", f"{new.title}\n\n{new.body}")
        too_different = diff is None  # the comparison would cost more than its bounded budget
    elif request.args.get("a") or request.args.get("b"):
        flash(_("Choose two different versions to compare."), "error")
    return render_template(
        "recommendations/versions.html",
        process=shown.process,
        rec=shown.rec,
        revisions=revisions,
        authors=authors,
        a=a,
        b=b,
        diff=diff,
        too_different=too_different,
    )


def _may_invite(shown) -> bool:
    return "author" in shown.roles and permissions.can_edit(shown.roles, shown.workflow, shown.rec.state)


@bp.get("/processes/<slug>/recommendations/<id:number>/authors")
@signed_in
def coauthors(slug: str, number: int):
    """Inviting a co-author: search the process's members by name, then choose one explicitly.
    Only the authors, and only while the recommendation can be edited."""
    shown = recommendation_or_404(slug, number)
    if not _may_invite(shown):
        abort(403)
    search = request.args.get("q", "").strip()[:100]
    found: list[User] = []
    steering = aliased(Membership)
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        authors = {link.user_id for link in shown.rec.author_links}
        found = [
            user
            for user in db.session.scalars(
                select(User)
                .join(Membership, Membership.user_id == User.id)
                .where(
                    Membership.process_id == shown.process.id,
                    User.active.is_(True),
                    User.erased_at.is_(None),
                    User.name.ilike(pattern, escape="\\"),
                    ~exists().where(  # those who moderate or decide here cannot co-author (services.add_author)
                        steering.user_id == User.id,
                        steering.process_id == shown.process.id,
                        steering.role.in_(STEERING_ROLES),
                    ),
                )
                .distinct()
                .order_by(User.name)
                .limit(SEARCH_LIMIT + 1)
            )
            if user.id not in authors
        ]
    return render_template(
        "recommendations/coauthors.html",
        process=shown.process,
        rec=shown.rec,
        workflow=shown.workflow,
        search=search,
        found=found[:SEARCH_LIMIT],
        more=len(found) > SEARCH_LIMIT,
        form=ButtonForm(),
    )


@bp.post("/processes/<slug>/recommendations/<id:number>/authors")
@signed_in
def add_coauthor(slug: str, number: int):
    shown = recommendation_or_404(slug, number)
    form = CoauthorForm()
    if not form.validate():
        abort(400)
    user = db.session.get(User, form.user_id.data)
    if user is None:
        abort(400)
    try:
        services.add_author(shown.rec.id, current_user, user)
    except ServiceError as error:
        db.session.rollback()
        if error.status in (403, 404):
            abort(error.status)
        flash_error(error)
        return redirect(url_for("web.coauthors", slug=slug, number=number, q=request.form.get("q", "")), code=303)
    flash(_("%(name)s is now a co-author and has been told.", name=user.name), "success")
    return redirect(url_for("web.recommendation", slug=slug, number=number), code=303)
