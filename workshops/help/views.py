"""The in-app guide: docs/guide rendered offline, and the help link of each page.

Public on purpose (tests/test_access.py): the guide holds no personal data, and its
troubleshooting page (a forgotten password, no network) must be readable from the login page.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import get_locale
from markupsafe import Markup

from workshops.core.db import READ_ONLY
from workshops.core.security import public
from workshops.help import pages
from workshops.help.render import render

bp = Blueprint("help", __name__, url_prefix="/aide")


def _language() -> str:
    language = str(get_locale() or pages.DEFAULT_LANGUAGE)[:2]
    return language if language in pages.LANGUAGES else pages.DEFAULT_LANGUAGE


def _page_url(page: str, anchor: str) -> str:
    """The page's address; the anchor is kept as markdown-it percent-encoded it."""
    url = url_for("help.index") if page == "index" else url_for("help.page", guide_page=page)
    return f"{url}#{anchor}" if anchor else url


def _image_url(language: str, name: str) -> str:
    return url_for("help.image", guide_lang=language, guide_image=f"{name}.png")


@bp.route("/")
@public
def index():
    return show("index")


@bp.route("/<guide_page>", endpoint="page")
@public
def show(guide_page: str):
    if not pages.is_safe_name(guide_page):
        abort(404)
    path = pages.page_file(_language(), guide_page)
    if path is None:
        abort(404)
    rendered = render(path.read_text(encoding="utf-8"), _page_url, _image_url)
    # Markup: markdown-it rendered the page with raw HTML disabled, every text escaped.
    return render_template("help/page.html", page=guide_page, title=rendered.title,
                           body=Markup(rendered.html))  # noqa: S704


@bp.route("/img/<guide_lang>/<guide_image>")
@public
def image(guide_lang: str, guide_image: str):
    stem, dot, extension = guide_image.partition(".")
    folder = pages.image_dir(guide_lang)
    if folder is None or not dot or extension != "png" or not pages.is_safe_name(stem) \
            or not (folder / guide_image).is_file():
        abort(404)
    # Read whole (a screenshot is small): no open file left behind by an unread response.
    return current_app.response_class((folder / guide_image).read_bytes(), mimetype="image/png")


@bp.app_context_processor
def help_link():
    """`help_url()`: the guide page for the current screen, for the header's Help link."""

    def help_url() -> str:
        endpoint = request.endpoint
        if endpoint and endpoint.startswith("help."):
            return url_for("help.index")
        target = pages.page_for(endpoint, read_only=bool(current_app.extensions.get(READ_ONLY)),
                                failed=request.routing_exception is not None)
        return url_for("help.index") if target == "index" else url_for("help.page", guide_page=target)

    return {"help_url": help_url}
