"""Home page and the language switch."""

from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from workshops.core.i18n import set_language
from workshops.core.security import is_safe_redirect, public

bp = Blueprint("core", __name__)

# Main menu: endpoint, label, roles allowed (None: every staff account). Entries
# whose endpoint does not exist (a feature not installed) are left out.
MAIN_MENU = (
    ("core.home", _l("Home"), None),
    ("scheduling.workshops", _l("Ateliers"), None),
    ("families.index", _l("Families"), None),
    ("equipment.index", _l("Equipment"), None),
    ("imports.upload", _l("Import a list"), None),
    ("resources.index", _l("Resources"), None),
    ("scheduling.venues", _l("Venues"), None),
    ("auth.structures", _l("Structures"), None),
    ("auth.users", _l("Accounts"), ("admin",)),
)


@bp.route("/")
def home():
    return render_template("core/home.html")


@bp.route("/language/<code>", methods=["POST"])
@public
def language(code: str):
    """Switch the interface language, then come back to the same page."""
    set_language(code)
    target = request.form.get("next")
    return redirect(target if is_safe_redirect(target) else url_for("core.home"))


def init_app(app) -> None:
    """Make the demo flag and languages available to every template."""

    def main_menu():
        user = g.get("user")
        return [(endpoint, label) for endpoint, label, roles in MAIN_MENU
                if endpoint in current_app.view_functions
                and user is not None and (roles is None or user.role in roles)]

    @app.context_processor
    def layout_context():
        return {"is_demo": current_app.config["DEMO"], "main_menu": main_menu,
                "is_hub": current_app.config["ROLE"] == "hub",
                "get_locale": get_locale}
