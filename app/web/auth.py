"""Signing in and out, and changing one's password."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.security import check_password_hash

from .. import services
from ..config import LANGUAGE_COOKIE
from ..errors import ServiceError, TooManyAttempts
from ..extensions import db
from . import bp, kept
from .common import signed_in
from .forms import ButtonForm, LoginForm, PasswordForm


def local_target(target: str | None) -> str:
    """``next`` only ever leads to a path of our own."""
    target = target or ""
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or "\\" in target or parts.scheme or parts.netloc:
        return url_for("web.index")
    return target


def too_many(template: str, wait: int, **context):
    """The form again, with status 429 and how long to wait."""
    flash(_("Too many attempts. Please wait %(seconds)s seconds before you try again.", seconds=wait), "error")
    return render_template(template, **context), 429, {"Retry-After": str(wait)}


#: Fields never kept for the page after a refusal: what a person types there is a secret.
SECRET_FIELDS = ("password", "current", "new")


def refused(name: str, form, target: str, **extra):
    """Post/redirect/get after a refused sign-in or password form (app/web/kept.py): back to
    ``target`` with the errors at their fields and what was typed, except passwords. None when it
    does not fit the session cookie (then the caller answers at once)."""
    fields = {key: values for key, values in kept.fields_of(form).items() if key not in SECRET_FIELDS}
    return kept.back(name, target, form, fields=fields, **extra)


def refusal(name: str, form_class, **kwargs):
    """The form of a GET after :func:`refused` (with its errors and the wait, if any), or a fresh
    one; and the seconds to wait (None when there is nothing to wait for)."""
    earlier = kept.take(name) if request.method == "GET" else None
    if earlier is None:
        return form_class(**kwargs), None
    return kept.restore(form_class, earlier, **kwargs), earlier.get("wait")


@bp.route("/login", methods=["GET", "POST"])
def login():
    wanted = request.args.get("next")
    here = url_for("web.login", next=wanted) if wanted else url_for("web.login")
    form, wait = refusal("login", LoginForm)
    if wait:
        return too_many("auth/login.html", wait, form=form)
    if form.validate_on_submit():
        # Counted in the database before the password is checked, per address, per account and
        # address, and per account from unknown addresses (app/services/throttle.py).
        attempt = services.sign_in_attempt(form.email.data, request.remote_addr or "")
        if attempt.wait:
            return refused("login", form, here, wait=attempt.wait) or too_many("auth/login.html", attempt.wait, form=form)
        user = services.find_user(form.email.data)
        # One message for an unknown e-mail and a wrong password, and the same work for both (a hash
        # is checked either way), so neither the answer nor its timing reveals who has an account.
        stored = user.password_hash if user is not None else services.decoy_password_hash()
        if check_password_hash(stored, form.password.data) and user is not None and user.active:
            services.rehash_password_if_needed(user.id, form.password.data)
            login_user(services.sign_in(user.id, attempt, bool(form.remember.data)), remember=form.remember.data)
            kept.signed_in(user.id)  # a text kept while signed out is back on its page now (app/web/stash.py)
            flash(_("Welcome, %(name)s.", name=user.name), "success")
            # Without a page to return to, people land on what waits for them.
            return redirect(local_target(wanted) if wanted else url_for("web.home"))
        form.password.errors.append(_("E-mail or password is wrong."))
    if request.method == "POST":
        response = refused("login", form, here)
        if response is not None:
            return response
    return render_template("auth/login.html", form=form)


@bp.get("/language/<code>")
def language(code: str):
    """The language switch: remembered in a cookie for a year, then back to where the person was."""
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    response = redirect(local_target(request.args.get("next")))
    response.set_cookie(
        LANGUAGE_COOKIE,
        code,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="Lax",
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
    )
    return response


@bp.post("/logout")
def logout():
    # The sign-in ends on the server, so a copy of this browser's cookies stops working too.
    services.end_session(session.get("_user_id"))
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("web.index"))


@bp.post("/account/sign-out-everywhere")
@signed_in
def sign_out_everywhere():
    if not ButtonForm().validate():
        abort(400)
    services.sign_out_everywhere(current_user.id)
    logout_user()
    flash(_("You are signed out everywhere, in this browser too. Your API tokens still work."), "info")
    return redirect(url_for("web.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@signed_in
def password():
    here = url_for("web.password")
    form, wait = refusal("password", PasswordForm)
    if wait:
        return too_many("auth/password.html", wait, form=form, sign_out=ButtonForm())
    if form.validate_on_submit():
        # A browser that was remembered stays remembered, with a cookie for its new sign-in.
        remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
        try:
            user = services.change_password(current_user.id, form.current.data, form.new.data, remember=remembered)
        except TooManyAttempts as error:
            db.session.rollback()
            return refused("password", form, here, wait=error.wait) or too_many(
                "auth/password.html", error.wait, form=form, sign_out=ButtonForm()
            )
        except ServiceError as error:
            db.session.rollback()
            if error.field == "current":
                form.current.errors.append(_("The current password is wrong."))
            else:  # the new password breaks the policy
                form.new.errors.append(error.message)
        else:
            # Every session ended with the old token; this browser continues in a new one.
            login_user(user, remember=remembered)
            flash(_("Your password is changed. You were signed out everywhere else."), "success")
            return redirect(url_for("web.index"))
    if request.method == "POST":
        response = refused("password", form, here)
        if response is not None:
            return response
    return render_template("auth/password.html", form=form, sign_out=ButtonForm())
