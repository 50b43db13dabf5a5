"""The resources catalogue: the list for every staff account, the form for managers and admins."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from workshops.core.errors import ValidationFailed
from workshops.core.forms import apply_reasons
from workshops.core.security import roles_required
from workshops.extensions import db
from workshops.resources import forms, queries, services
from workshops.resources.models import RESOURCE_CATEGORIES

bp = Blueprint("resources", __name__)


@bp.route("/resources")
def index():
    filters = forms.ResourceFilterForm(request.args)
    # Read, not validated: an unknown value in a hand-typed address just means no filter.
    category = filters.category.data if filters.category.data in RESOURCE_CATEGORIES else None
    return render_template(
        "resources/index.html", filters=filters, is_filtered=bool(category),
        resources=queries.list_resources(db.session, category=category),
        language=str(get_locale()), category_labels=forms.CATEGORY_LABELS,
        audience_labels=forms.AUDIENCE_LABELS)


@bp.route("/resources/new", methods=["GET", "POST"], defaults={"resource_id": None})
@bp.route("/resources/<uuid:resource_id>", methods=["GET", "POST"])
@roles_required("manager", "admin")
def resource_form(resource_id):
    resource = None
    if resource_id is not None:
        resource = queries.get_resource(db.session, resource_id) or abort(404)
    form = forms.ResourceForm(obj=resource)
    if request.method == "GET" and resource is not None:
        texts = resource.descriptions_by_language()
        for code, description_field in forms.description_fields(form).items():
            description_field.data = texts.get(code, "")
    if form.validate_on_submit():
        try:
            services.save_resource(db.session, _resource_data(form), resource)
        except ValidationFailed as error:
            db.session.rollback()
            apply_reasons(form, error)
        else:
            db.session.commit()
            flash(_("The resource was saved."), "success")
            return redirect(url_for("resources.index"))
    return render_template("resources/resource_form.html", form=form, resource=resource,
                           description_fields=forms.description_fields(form))


def _resource_data(form: forms.ResourceForm) -> services.ResourceData:
    return services.ResourceData(
        name=form.name.data, url=form.url.data or "", category=form.category.data,
        audience=form.audience.data, needs_account=form.needs_account.data,
        is_active=form.is_active.data,
        descriptions={code: f.data or "" for code, f in forms.description_fields(form).items()})
