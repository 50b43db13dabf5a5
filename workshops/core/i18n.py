"""Languages: locale selection, the language switch, translations and dates looked up once
per request, and the `flask translate` commands."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import date, datetime
from functools import cached_property
from pathlib import Path

import click
import flask_babel
from babel import dates
from babel.messages.checkers import python_format
from babel.messages.pofile import read_po
from flask import Flask, current_app, g, has_request_context, session
from flask.cli import AppGroup
from jinja2 import pass_context
from markupsafe import Markup

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "translations"
# Two catalogues. "messages": the interface (French; English is the msgids). "documents":
# what is printed for families in their language (French, Arabic...), extracted from the
# templates of templates/pdf/for_families only, which the interface catalogue leaves out.
FAMILY_DOCUMENTS_DIR = "for_families"
DOMAINS = {"messages": ("babel.cfg", "."),
           "documents": ("babel-documents.cfg", f"templates/pdf/{FAMILY_DOCUMENTS_DIR}")}

# Interface languages, named in their own language for the switch.
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}



def select_locale() -> str:
    """The language chosen in this session, else the default (French)."""
    chosen = session.get("lang") if has_request_context() else None
    if chosen in current_app.config["LANGUAGES"]:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def set_language(code: str) -> bool:
    """Remember the interface language for this session; False if unknown."""
    if code not in current_app.config["LANGUAGES"]:
        return False
    session["lang"] = code
    return True


# ---------- Translations and dates, looked up once per request ----------
# Flask-Babel resolves the locale and its catalogue again for every string and every date
# (about 10 and 25 µs); a list or the check-in roster translates a few hundred. The
# pieces below keep the same answers, force_locale included, and look up once.

_CATALOGUE = "_workshops_catalogue"


class CatalogueDomain(flask_babel.Domain):
    """Flask-Babel's message domain, keeping the request's catalogue on `g` for as long as
    the locale stays the same object (force_locale and refresh set a new one)."""

    def get_translations(self):
        locale = flask_babel.get_locale()
        if locale is None:
            return super().get_translations()
        cached = g.get(_CATALOGUE)
        if cached is None or cached[0] is not locale:
            cached = (locale, super().get_translations())
            setattr(g, _CATALOGUE, cached)
        return cached[1]


class Babel(flask_babel.Babel):
    """Flask-Babel with the CatalogueDomain (gettext, lazy strings and templates use it)."""

    @cached_property
    def domain_instance(self) -> CatalogueDomain:
        return CatalogueDomain(domain=self.domain)


def template_translations() -> dict:
    """`gettext` and `ngettext` bound to this render's catalogue, for the template context.

    Jinja's `_()` looks `gettext` up in the context first: the page and its includes use
    these, imported macros keep Flask-Babel's."""
    return bound_translations(flask_babel.get_translations())


def bound_translations(catalogue) -> dict:
    """Template `gettext` and `ngettext` reading `catalogue`, with the behaviour of Jinja's
    "newstyle" gettext: escaped-safe Markup under autoescape, always %-formatted."""

    @pass_context
    def gettext(context, string: str, **variables) -> str:
        text = catalogue.ugettext(string)
        # The catalogue is ours (trusted); the variables are escaped by Markup's %.
        return (Markup(text) if context.eval_ctx.autoescape else text) % variables  # noqa: S704

    @pass_context
    def ngettext(context, singular: str, plural: str, num: int, **variables) -> str:
        variables.setdefault("num", num)
        text = catalogue.ungettext(singular, plural, num)
        return (Markup(text) if context.eval_ctx.autoescape else text) % variables  # noqa: S704

    return {"gettext": gettext, "ngettext": ngettext}


def _local(value: datetime) -> datetime:
    """An aware datetime in the request's time zone (naive ones are UTC, as stored)."""
    return flask_babel.to_user_timezone(value)


def format_date(value: date | datetime, format: str = "medium") -> str:
    """Filter `dateformat`: Flask-Babel's output ("3 déc. 2026"), datetimes shown in Paris."""
    if isinstance(value, datetime):
        value = _local(value)
    return dates.format_date(value, format, locale=flask_babel.get_locale())


def format_time(value: datetime, format: str = "medium") -> str:
    """Filter `timeformat`: the hour in Paris ("14:30" with "short")."""
    return dates.format_time(_local(value), format, locale=flask_babel.get_locale())


def format_datetime(value: datetime, format: str = "medium") -> str:
    """Filter `datetimeformat`: day and hour in Paris."""
    return dates.format_datetime(_local(value), format, locale=flask_babel.get_locale())


translate = AppGroup("translate", help="Extract, update, compile and check the message catalogues.")


def _pybabel(*args: str, quiet: bool = False) -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *(["-q"] if quiet else []), *args],
                   check=True, cwd=ROOT)


def pot_of(domain: str) -> Path:
    return TRANSLATIONS / f"{domain}.pot"


def _extract(target: Path, domain: str = "messages", *, quiet: bool = False) -> None:
    config, source = DOMAINS[domain]
    ignored = ["--ignore-dirs", f".* ._ {FAMILY_DOCUMENTS_DIR}"] if domain == "messages" else []
    _pybabel("extract", "-F", config, "-k", "_l", "--no-location", "--sort-output", "--omit-header",
             *ignored, "-o", str(target), source, quiet=quiet)


@translate.command("extract")
def extract_command() -> None:
    """Extract messages from the code and templates into messages.pot and documents.pot."""
    for domain in DOMAINS:
        _extract(pot_of(domain), domain)


@translate.command("update")
def update_command() -> None:
    """Extract, then merge each .pot into every language's catalogue of that domain."""
    extract_command.callback()
    for domain in DOMAINS:
        _pybabel("update", "-i", str(pot_of(domain)), "-d", str(TRANSLATIONS), "-D", domain,
                 "--no-fuzzy-matching", "--ignore-obsolete")


@translate.command("compile")
def compile_command() -> None:
    """Compile every catalogue to .mo files (done by `make` and on install)."""
    _pybabel("compile", "-d", str(TRANSLATIONS), "-D", " ".join(DOMAINS))


@translate.command("check")
def check_command() -> None:
    """Fail when a catalogue is stale, incomplete, fuzzy or has mismatched placeholders."""
    problems = catalogue_problems()
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise SystemExit(1)
    click.echo("Catalogues are complete and up to date.")


def catalogue_problems() -> list[str]:
    """Everything wrong with the catalogues against a fresh extraction."""
    problems = []
    for domain in DOMAINS:
        with tempfile.TemporaryDirectory() as tmp:
            fresh = Path(tmp) / f"{domain}.pot"
            _extract(fresh, domain, quiet=True)
            wanted = _ids(fresh)
        if _ids(pot_of(domain)) != wanted:
            problems.append(f"{domain}.pot is stale: run `flask translate update`.")
        for po_path in sorted(TRANSLATIONS.glob(f"*/LC_MESSAGES/{domain}.po")):
            problems += _po_problems(po_path, wanted)
    return problems


def _ids(path: Path) -> set:
    with path.open("rb") as handle:
        return {message.id if isinstance(message.id, str) else tuple(message.id)
                for message in read_po(handle) if message.id}


def _po_problems(po_path: Path, wanted: set) -> list[str]:
    lang = po_path.parts[-3]
    with po_path.open("rb") as handle:
        catalog = read_po(handle)
    problems = []
    have = {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}
    if have != wanted:
        problems.append(f"{lang}: {po_path.name} differs from its .pot: run `flask translate update`.")
    for message in catalog:
        if not message.id:
            continue
        label = message.id if isinstance(message.id, str) else message.id[0]
        if message.fuzzy:
            problems.append(f"{lang}: fuzzy translation for {label!r}")
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            problems.append(f"{lang}: missing translation for {label!r}")
            continue
        try:
            python_format(catalog, message)
        except Exception as error:  # babel raises TranslationError
            problems.append(f"{lang}: placeholders differ in {label!r}: {error}")
    return problems


def init_app(app: Flask) -> None:
    """Bind translations and date filters per request; register the translate commands."""
    app.context_processor(template_translations)
    app.jinja_env.filters.update(dateformat=format_date, timeformat=format_time,
                                 datetimeformat=format_datetime)
    app.cli.add_command(translate)
