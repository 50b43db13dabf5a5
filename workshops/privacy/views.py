"""Staff pages of the data-subject rights: export a household's data, erase a household (with a
confirmation naming what is kept and what is lost), and the register of processing. The family
page shows the first two through a family panel."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import HiddenField

from workshops.backup.services import scrub_after_erasure
from workshops.core.models import utcnow
from workshops.core.security import roles_required
from workshops.extensions import db
from workshops.families.family_panels import register_family_panel
from workshops.families.queries import get_family_for
from workshops.privacy import export_services
from workshops.privacy.register import controller_of, register_markdown
from workshops.scheduling.panels import Panel
from workshops.sync.anonymise_services import household_of
from workshops.sync.erasure_services import erase_family

bp = Blueprint("privacy", __name__)
STAFF = ("conseiller", "manager", "admin")
MIME = {"json": "application/json", "csv": "text/csv; charset=utf-8"}


class ExportForm(FlaskForm):
    format = HiddenField(default="json")


class EraseForm(FlaskForm):
    """A POST with its CSRF token: nothing to fill in."""


def _family_or_404(family_id: uuid.UUID):
    family = get_family_for(db.session, g.user, family_id)
    if family is None:
        abort(404)
    return family


@register_family_panel
def privacy_panel(family, user) -> Panel | None:
    """The household's data: export it, erase it."""
    return Panel(
        "privacy/_family_panel.html",
        {"export_form": ExportForm(), "formats": export_services.FORMATS},
        order=95,
    )


@bp.route("/families/<uuid:family_id>/export", methods=["POST"])
@roles_required(*STAFF)
def export(family_id: uuid.UUID):
    family = _family_or_404(family_id)
    form = ExportForm()
    fmt = form.format.data if form.validate_on_submit() else None
    if fmt not in export_services.FORMATS:
        abort(400)
    data = export_services.export_family(db.session(), family, g.user.id, fmt)
    db.session.commit()
    name = f"household-{family.id}.{fmt}"
    return current_app.response_class(
        data, mimetype=MIME[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def _what_is_kept(family) -> dict[str, int]:
    """The household's live rows by table, as the erasure counts them: the tombstones a merge
    left on the households merged into this one are not counted twice."""
    data = export_services.family_data(db.session, family)
    return {table: sum(1 for row in rows if row.get("deleted_dt") is None) for table, rows in data.items()}


@bp.route("/families/<uuid:family_id>/erase", methods=["GET", "POST"])
@roles_required(*STAFF)
def erase(family_id: uuid.UUID):
    family = _family_or_404(family_id)
    form = EraseForm()
    if form.validate_on_submit():
        count = erase_family(db.session(), family, g.user.id, utcnow())
        db.session.commit()
        scrub_after_erasure(current_app._get_current_object(), count.family_ids)
        flash(
            _(
                "The household was erased: %(registrations)s registrations and %(handovers)s handovers "
                "stay as anonymous counts.",
                registrations=count.registrations_kept,
                handovers=count.handovers,
            ),
            "success",
        )
        return redirect(url_for("families.index"))
    return render_template(
        "privacy/erase.html",
        family=family,
        form=form,
        counts=_what_is_kept(family),
        merged=len(household_of(db.session, family)) - 1,
    )


@bp.route("/privacy/register")
@roles_required("manager", "admin")
def register():
    text = register_markdown(controller_of(current_app.config), current_app.config["RETENTION_MONTHS"])
    return render_template("privacy/register.html", text=text)
