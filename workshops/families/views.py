"""Households: list and search, the family page, create and edit with duplicate
suggestions, and the merge of two households."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms import Field

from workshops.auth.queries import list_structures
from workshops.core.errors import NotAllowed, ValidationFailed
from workshops.core.forms import choices, parse_uuid
from workshops.extensions import db
from workshops.families import forms, merge_queries, merge_services, queries, services
from workshops.families.consent_queries import consent_history, merge_consent_outcomes
from workshops.families.family_panels import family_panels_for
from workshops.families.models import Family  # also makes the tables known to migrations
from workshops.families.normalize import display_phone

bp = Blueprint("families", __name__)


@bp.route("/families")
def index():
    search = forms.SearchForm(request.args)
    text = (search.q.data or "").strip()
    page = request.args.get("page", 1, type=int) or 1
    listing = None if text else queries.list_families(db.session, g.user, page)
    results = queries.search_families(db.session, g.user, text) if text else []
    return render_template("families/index.html", search=search, text=text, listing=listing,
                           results=results, too_short=bool(text) and len(text.replace(" ", "")) < 2,
                           **_labels())


@bp.route("/families/<uuid:family_id>")
def family(family_id):
    household = queries.get_family_for(db.session, g.user, family_id)
    if household is None:
        kept = merge_queries.kept_household_for(db.session, g.user, family_id) or abort(404)
        return redirect(url_for("families.family", family_id=kept.id))
    return render_template(
        "families/family.html", family=household, guardians=queries.live_guardians(household),
        children=queries.live_children(household),
        registrations=queries.list_family_registrations(db.session, household.id),
        consent_events=consent_history(db.session, household),
        panels=family_panels_for(household, g.user), **_labels())


@bp.route("/families/new", methods=["GET", "POST"])
def new():
    form = _family_form()
    duplicates = []
    if form.validate_on_submit():
        data = _family_data(form)
        refusals, _warnings = services.family_problems(data)
        if not refusals and request.form.get("confirm_new") != "1":
            # Suggested once the form is right, so "Create anyway" then just works.
            duplicates = services.find_duplicates(db.session, data, g.user)
        if not duplicates:
            created = _save(form, lambda: services.create_family(db.session, data, g.user))
            if created is not None:
                flash(_("The family was saved."), "success")
                return redirect(url_for("families.family", family_id=created.id))
    return render_template("families/family_form.html", form=form, family=None,
                           duplicates=duplicates, **_labels())


@bp.route("/families/<uuid:family_id>/edit", methods=["GET", "POST"])
def edit(family_id):
    household = _family_or_404(family_id)
    form = _family_form(household)
    if form.validate_on_submit():
        data = _family_data(form)
        saved = _save(form, lambda: services.update_family(db.session, household, data, g.user))
        if saved is not None:
            flash(_("The family was saved."), "success")
            return redirect(url_for("families.family", family_id=household.id))
    return render_template("families/family_form.html", form=form, family=household,
                           duplicates=[], **_labels())


@bp.route("/families/<uuid:family_id>/merge", methods=["GET", "POST"])
def merge(family_id):
    keep = _family_or_404(family_id)
    form = forms.MergeForm()
    other_id = parse_uuid(form.other_id.data if request.method == "POST" else request.args.get("other"))
    other = queries.get_family_for(db.session, g.user, other_id) if other_id else None
    if other_id and (other is None or other.id == keep.id):
        abort(404)
    if request.method == "POST" and form.validate_on_submit() and other is not None:
        try:
            merge_services.merge_families(db.session, keep, other, g.user)
        except (ValidationFailed, NotAllowed):
            db.session.rollback()
            abort(404)
        db.session.commit()
        flash(_("The two households are now one. Every registration was kept."), "success")
        return redirect(url_for("families.family", family_id=keep.id))
    if other is not None:
        form.other_id.data = str(other.id)
    search = forms.SearchForm(request.args)
    text = (search.q.data or "").strip()
    return render_template(
        "families/merge.html", keep=keep, other=other, form=form, search=search, text=text,
        preview=queries.merge_preview(db.session, keep, other) if other is not None else None,
        consent_outcomes=merge_consent_outcomes(db.session, keep, other) if other is not None else {},
        candidates=[] if other is not None else _merge_candidates(keep, text), **_labels())


def _merge_candidates(keep: Family, text: str) -> list[Family]:
    """Households found by the search box, or else the likely duplicates of `keep`."""
    if text:
        found = queries.search_families(db.session, g.user, text)
    else:
        data = services.FamilyData(guardians=tuple(
            services.GuardianData(guardian.first_name, guardian.last_name, guardian.phone or "",
                                  guardian.email or "") for guardian in queries.live_guardians(keep)))
        found = [c.family for c in services.find_duplicates(db.session, data, g.user, exclude_id=keep.id)]
    return [family for family in found if family.id != keep.id]


def _family_or_404(family_id) -> Family:
    household = queries.get_family_for(db.session, g.user, family_id)
    if household is None:
        abort(404)
    return household


def _save(form: forms.FamilyForm, write) -> Family | None:
    """Run a service write and commit; on a refusal put the reasons on the form."""
    try:
        saved = write()
    except ValidationFailed as error:
        db.session.rollback()
        _apply_reasons(form, error)
        return None
    except NotAllowed:
        db.session.rollback()
        form.form_errors.append(_("Your account belongs to no structure, or to another one: "
                                  "ask an administrator to set your structure."))
        return None
    db.session.commit()
    return saved


def _apply_reasons(form: forms.FamilyForm, error: ValidationFailed) -> None:
    """Reasons name fields like "guardians-0-phone": put each next to its field."""
    fields = dict(_all_fields(form))
    for name, message in error.reasons:
        field = fields.get(name) if name else None
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)


def _all_fields(form) -> list[tuple[str, Field]]:
    found = []
    for field in form:
        if field.type == "FieldList":
            found += [(sub.name, sub) for entry in field for sub in entry.form]
        else:
            found.append((field.name, field))
    return found


def _family_form(household: Family | None = None) -> forms.FamilyForm:
    """The form with its choices, filled from the household on a first display."""
    form = forms.FamilyForm(data=_form_data(household) if household and request.method == "GET" else None)
    if household is not None:
        form.allow_notes_as_long_as(household.notes)
    college_choices = choices([("", _("Not known")), *((str(c.id), c.name)
                                                       for c in queries.list_colleges(db.session))])
    for entry in form.children:
        entry.form.college_id.choices = college_choices
    structures = list_structures(db.session, active_only=True)
    form.structure_id.choices = choices([("", _("Choose a structure")),
                                         *((str(s.id), s.name) for s in structures)])
    if request.method == "GET" and household is None and g.user.structure_id:
        form.structure_id.data = str(g.user.structure_id)
    return form


def _form_data(household: Family) -> dict:
    guardians = [{"last_name": x.last_name, "first_name": x.first_name, "phone": display_phone(x.phone),
                  "email": x.email or "", "language": x.language, "relation": x.relation}
                 for x in queries.live_guardians(household)]
    children = [{"first_name": c.first_name, "college_id": str(c.college_id or ""), "level": c.level or ""}
                for c in queries.live_children(household)]
    # One blank child block more than the household has, so a new child can be added.
    guardians += [{}] * max(0, forms.GUARDIAN_BLOCKS - len(guardians))
    children += [{}] * max(1, forms.CHILD_BLOCKS - len(children))
    guardians, children = guardians[:forms.MAX_GUARDIANS], children[:forms.MAX_CHILDREN]
    return {"guardians": guardians, "children": children, "commune": household.commune,
            "structure_id": str(household.structure_id), "origin": household.origin,
            "computer_wanted": household.computer_wanted or "", "notice_version": household.notice_version,
            "notice_date": household.notice_date, "has_follow_up_consent": household.has_follow_up_consent,
            "has_photo_consent": household.has_photo_consent,
            "has_naming_consent": household.has_naming_consent, "notes": household.notes}


def _family_data(form: forms.FamilyForm) -> services.FamilyData:
    guardians = tuple(services.GuardianData(
        first_name=entry.first_name.data or "", last_name=entry.last_name.data or "",
        phone=entry.phone.data or "", email=entry.email.data or "",
        language=entry.language.data, relation=entry.relation.data) for entry in form.guardians)
    children = tuple(services.ChildData(
        first_name=entry.first_name.data or "", college_id=parse_uuid(entry.college_id.data),
        level=entry.level.data or None) for entry in form.children)
    managing = g.user.role in ("manager", "admin")
    return services.FamilyData(
        guardians=guardians, children=children, commune=form.commune.data or "",
        computer_wanted=form.computer_wanted.data or None, origin=form.origin.data,
        notice_version=form.notice_version.data or None, notice_date=form.notice_date.data,
        has_follow_up_consent=form.has_follow_up_consent.data, has_photo_consent=form.has_photo_consent.data,
        has_naming_consent=form.has_naming_consent.data, notes=form.notes.data or "",
        structure_id=parse_uuid(form.structure_id.data) if managing else None)


def _labels() -> dict:
    return {"language_labels": forms.LANGUAGE_LABELS, "relation_labels": forms.RELATION_LABELS,
            "origin_labels": forms.ORIGIN_LABELS, "computer_labels": forms.COMPUTER_LABELS,
            "match_labels": forms.MATCH_LABELS, "status_labels": forms.STATUS_LABELS,
            "consent_labels": forms.CONSENT_LABELS, "way_labels": forms.WAY_LABELS,
            "display_phone": display_phone, "live_guardians": queries.live_guardians,
            "live_children": queries.live_children,
            "can_choose_structure": g.user.role in ("manager", "admin")}
