"""Signing in and out, and changing one's password."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.security import check_password_hash

from .. import services
from ..config import LANGUAGE_COOKIE
from ..errors import ServiceError
from ..extensions import db
from ..security import limiter, login_account_key
from . import bp
from .common import signed_in
from .forms import LoginForm, PasswordForm


def local_target(target: str | None) -> str:
    """``next`` only ever leads to a path of our own."""
    target = target or ""
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or "\\" in target or parts.scheme or parts.netloc:
        return url_for("web.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], key_func=login_account_key, methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = services.find_user(form.email.data)
        # One message for an unknown e-mail and a wrong password, and the same work for both (a hash
        # is checked either way), so neither the answer nor its timing reveals who has an account.
        stored = user.password_hash if user is not None else services.decoy_password_hash()
        if check_password_hash(stored, form.password.data) and user is not None and user.active:
            services.rehash_password_if_needed(user.id, form.password.data)
            login_user(db.session.get(type(user), user.id), remember=form.remember.data)
            flash(_("Welcome, %(name)s.", name=user.name), "success")
            # Without a page to return to, people land on what waits for them.
            wanted = request.args.get("next")
            return redirect(local_target(wanted) if wanted else url_for("web.home"))
        flash(_("E-mail or password is wrong."), "error")
    return render_template("auth/login.html", form=form)


@bp.get("/language/<code>")
def language(code: str):
    """The language switch: remembered in a cookie for a year, then back to where the person was."""
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    response = redirect(local_target(request.args.get("next")))
    response.set_cookie(LANGUAGE_COOKIE, code, max_age=365 * 24 * 3600, httponly=True, samesite="Lax",
                        secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
    return response


@bp.post("/logout")
def logout():
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("web.index"))


@bp.route("/account/password", methods=["GET", "POST"])
@signed_in
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            user = services.change_password(current_user.id, form.current.data, form.new.data)
        except ServiceError as error:
            db.session.rollback()
            if error.field == "current":
                form.current.errors.append(_("The current password is wrong."))
            else:  # the new password breaks the policy
                form.new.errors.append(error.message)
        else:
            # Every other session ends with the old token; this one continues.
            login_user(db.session.get(type(user), user.id))
            flash(_("Your password is changed. You were signed out everywhere else."), "success")
            return redirect(url_for("web.index"))
    return render_template("auth/password.html", form=form)
