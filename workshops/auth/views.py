"""Login (with the hub's second factor), logout, first account, own password, and the admin
screens for accounts and structures."""

from __future__ import annotations

import time
from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext

from workshops.auth import forms, limits, queries, services, totp_services, totp_step
from workshops.core.errors import ValidationFailed
from workshops.core.forms import apply_reasons, choices, parse_uuid
from workshops.core.security import is_safe_redirect, public, roles_required
from workshops.extensions import db

bp = Blueprint("auth", __name__)


def load_user():
    """The user of this browser session, enforcing idle and absolute timeouts."""
    token = session.get("sid")
    if not token:
        return None
    now = time.time()
    idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
    absolute = timedelta(minutes=current_app.config["SESSION_ABSOLUTE_MINUTES"])
    user = None
    if now - session.get("seen", 0) <= idle:
        user = queries.get_session_user(db.session, token, absolute)
    if user is None:
        session.pop("sid", None)
        return None
    session["seen"] = int(now)
    return user


def _fresh_cookie_session(token: str) -> None:
    """A new cookie session holding only the language and this session token (R08)."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session["sid"] = token
    session["seen"] = int(time.time())


def _finish_login(user, target: str | None):
    """Every factor passed: open the server-side session and go where the user was heading."""
    token = services.log_in(db.session, user, previous_token=session.get("sid"), absolute=timedelta(
        minutes=current_app.config["SESSION_ABSOLUTE_MINUTES"]))
    _fresh_cookie_session(token)
    db.session.commit()
    return redirect(target if is_safe_redirect(target) else url_for("core.home"))


def _throttle_settings() -> dict:
    return {"max_failures": current_app.config["LOGIN_MAX_FAILURES"],
            "lock_seconds": current_app.config["LOGIN_LOCK_SECONDS"]}


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if not services.has_any_user(db.session) and current_app.config["ROLE"] == "laptop":
        return redirect(url_for("auth.setup"))
    if request.method == "POST":
        limits.refuse_when_over(current_app)  # per client address, 429 (R06, R53)
    pending = totp_step.pending_user(db.session)
    if pending is not None:
        return _second_factor(pending)
    form = forms.LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(db.session, form.username.data, form.password.data,
                                     audit_key=current_app.config["SECRET_KEY"], **_throttle_settings())
        if user is not None and totp_services.needs_second_factor(user, current_app.config["ROLE"]):
            totp_services.start_enrolment(db.session, user)
            db.session.commit()
            totp_step.begin(user, request.args.get("next"))
            return redirect(url_for("auth.login"))
        if user is not None:
            return _finish_login(user, request.args.get("next"))
        db.session.commit()  # keep the failure count and the journal entry
        limits.count_failure(current_app)
        form.form_errors.append(_(
            "Login failed. Check the login name and the password. After several failed "
            "attempts, wait a minute before trying again."))
    return render_template("auth/login.html", form=form)


def _second_factor(user):
    """The code step of a hub manager or admin (enrolment first when they have none yet)."""
    form = forms.TotpForm()
    if form.validate_on_submit():
        if form.cancel.data:
            totp_step.clear()
            return redirect(url_for("auth.login"))
        if totp_services.check_code(db.session, user, form.code.data or "", **_throttle_settings()):
            return _finish_login(user, totp_step.pending_next())
        db.session.commit()  # keep the failure count and the journal entry
        limits.count_failure(current_app)
        form.code.errors.append(_(
            "This code is not right or was already used. Type the code your app shows now. After "
            "several failed attempts, wait a minute before trying again."))
    return totp_step.render_step(db.session, user, form)


@bp.route("/logout", methods=["POST"])
def logout():
    form = forms.ConfirmForm()
    if form.validate_on_submit():
        services.log_out(db.session, session["sid"])
        db.session.commit()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/setup", methods=["GET", "POST"])
@public
def setup():
    """First visit of a fresh laptop: create the first administrator."""
    if current_app.config["ROLE"] != "laptop" or services.has_any_user(db.session):
        abort(404)
    form = forms.FirstAccountForm()
    if form.validate_on_submit():
        try:
            user = services.create_first_account(db.session, services.NewUser(
                username=form.username.data, display_name=form.display_name.data,
                password=form.password.data, preferred_language=session.get("lang", "fr")))
        except ValidationFailed as error:
            db.session.rollback()
            apply_reasons(form, error)
        else:
            response = _finish_login(user, None)
            flash(_("Welcome! Your administrator account is ready."), "success")
            return response
    return render_template("auth/setup.html", form=form)


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():
    form = forms.ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(db.session, g.user, form.current_password.data,
                                     form.new_password.data)
        except ValidationFailed as error:
            db.session.rollback()
            apply_reasons(form, error)
        else:
            _fresh_cookie_session(services.start_session(db.session, g.user))
            db.session.commit()
            flash(_("Your password was changed. Your other sessions were ended."), "success")
            return redirect(url_for("core.home"))
    return render_template("auth/change_password.html", form=form)


def _structure_choices():
    return choices([("", _("— none —"))] + [
        (str(s.id), s.name) for s in queries.list_structures(db.session, active_only=True)])


@bp.route("/users")
@roles_required("admin")
def users():
    return render_template("auth/users.html", users=queries.list_users(db.session),
                           role_labels=forms.ROLE_LABELS, end_form=forms.ConfirmForm(),
                           totp_roles=totp_services.TOTP_ROLES if current_app.config["ROLE"] == "hub" else ())


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required("admin")
def user_new():
    form = forms.NewUserForm()
    form.structure_id.choices = _structure_choices()
    if form.validate_on_submit():
        try:
            services.create_user(db.session, services.NewUser(
                username=form.username.data, display_name=form.display_name.data,
                password=form.password.data, role=form.role.data,
                structure_id=parse_uuid(form.structure_id.data)), actor_id=g.user.id)
        except ValidationFailed as error:
            db.session.rollback()
            apply_reasons(form, error)
        else:
            db.session.commit()
            flash(_("The account was created."), "success")
            return redirect(url_for("auth.users"))
    return render_template("auth/user_form.html", form=form, user=None)


@bp.route("/users/<uuid:user_id>", methods=["GET", "POST"])
@roles_required("admin")
def user_edit(user_id):
    user = queries.get_user(db.session, user_id) or abort(404)
    form = forms.EditUserForm(obj=user)
    form.structure_id.choices = _structure_choices()
    if request.method == "GET":
        form.structure_id.data = str(user.structure_id or "")
    if form.validate_on_submit():
        try:
            services.update_user(db.session, user, actor=g.user,
                                 display_name=form.display_name.data, role=form.role.data,
                                 structure_id=parse_uuid(form.structure_id.data),
                                 is_active=form.is_active.data)
        except ValidationFailed as error:
            db.session.rollback()
            apply_reasons(form, error)
        else:
            db.session.commit()
            flash(_("The account was updated."), "success")
            return redirect(url_for("auth.users"))
    return render_template("auth/user_form.html", form=form, user=user)


@bp.route("/users/<uuid:user_id>/end-sessions", methods=["POST"])
@roles_required("admin")
def user_end_sessions(user_id):
    user = queries.get_user(db.session, user_id) or abort(404)
    if forms.ConfirmForm().validate_on_submit():
        count = services.end_sessions_of(db.session, user, actor=g.user)
        db.session.commit()
        flash(ngettext("%(num)d session ended for %(name)s.", "%(num)d sessions ended for %(name)s.",
                       count, name=user.display_name), "success")
    return redirect(url_for("auth.users"))


@bp.route("/users/<uuid:user_id>/second-factor/reset", methods=["POST"])
@roles_required("admin")
def user_totp_reset(user_id):
    """A hub admin removes an account's TOTP secret (a lost phone): it enrols again."""
    if current_app.config["ROLE"] != "hub":
        abort(404)
    user = queries.get_user(db.session, user_id) or abort(404)
    if forms.ConfirmForm().validate_on_submit():
        if totp_services.reset_totp(db.session, user, actor=g.user):
            db.session.commit()
            flash(_("The login code of %(name)s was reset: they set it up again at their next login.",
                    name=user.display_name), "success")
        else:
            flash(_("This account has not set up a login code yet."), "info")
    return redirect(url_for("auth.users"))


@bp.route("/structures")
def structures():
    return render_template("auth/structures.html",
                           structures=queries.list_structures(db.session),
                           kind_labels=forms.STRUCTURE_KIND_LABELS)


@bp.route("/structures/new", methods=["GET", "POST"], defaults={"structure_id": None})
@bp.route("/structures/<uuid:structure_id>", methods=["GET", "POST"])
@roles_required("manager", "admin")
def structure_form(structure_id):
    structure = None
    if structure_id is not None:
        structure = queries.get_structure(db.session, structure_id) or abort(404)
    form = forms.StructureForm(obj=structure)
    form.epci_id.choices = choices([("", _("— none —"))] + [
        (str(e.id), e.name) for e in queries.list_epcis(db.session)])
    if request.method == "GET" and structure is not None:
        form.epci_id.data = str(structure.epci_id or "")
    if form.validate_on_submit():
        data = services.StructureData(name=form.name.data, kind=form.kind.data,
                                      commune=form.commune.data or "",
                                      epci_id=parse_uuid(form.epci_id.data),
                                      is_active=form.is_active.data)
        try:
            services.save_structure(db.session, data, structure, actor_id=g.user.id)
        except ValidationFailed as error:
            db.session.rollback()
            apply_reasons(form, error)
        else:
            db.session.commit()
            flash(_("The structure was saved."), "success")
            return redirect(url_for("auth.structures"))
    return render_template("auth/structure_form.html", form=form, structure=structure)
