"""Every text area of the app counts a line break once, as the browser's own counter does.

A browser sends each line break of a textarea as CR LF but counts it once against the field's
limit: a conseiller whose notes fit the browser's limit must not be told they are too long.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import TextAreaField
from wtforms.validators import Length

import workshops


def _text_areas() -> list[tuple[type[FlaskForm], str, int]]:
    """(form class, field name, its Length max) for every text area of every project form."""
    for info in pkgutil.walk_packages(workshops.__path__, "workshops."):
        importlib.import_module(info.name)
    found, forms = [], [FlaskForm]
    while forms:
        form = forms.pop()
        forms.extend(form.__subclasses__())
        if not form.__module__.startswith("workshops."):
            continue
        for name, unbound in vars(form).items():
            field_class = getattr(unbound, "field_class", None)
            if field_class is None or not issubclass(field_class, TextAreaField):
                continue
            limits = [v.max for v in unbound.kwargs.get("validators", ()) if isinstance(v, Length)]
            limit = limits[0] if limits else unbound.kwargs.get("render_kw", {}).get("maxlength")
            found.append((form, name, limit))
    return found


TEXT_AREAS = _text_areas()


def test_every_text_area_is_found_and_has_a_limit():
    names = {f"{form.__name__}.{name}" for form, name, _limit in TEXT_AREAS}
    assert {"FamilyForm.notes", "EquipmentForm.notes", "ResourceForm.description_fr"} <= names
    assert all(limit for _form, _name, limit in TEXT_AREAS), TEXT_AREAS


@pytest.mark.parametrize("form_class,name,limit", TEXT_AREAS,
                         ids=[f"{form.__name__}.{name}" for form, name, _limit in TEXT_AREAS])
def test_a_text_at_the_limit_typed_on_lines_is_accepted(app, form_class, name, limit):
    counted = "\n".join(["Mercredi"] * (limit // 9)).ljust(limit, ".")  # what the browser counts
    typed = counted.replace("\n", "\r\n")  # what the browser sends
    assert len(counted) == limit < len(typed)
    with app.test_request_context(method="POST"):
        for text, accepted in ((typed, True), (typed + ".", False)):
            form = form_class(formdata=MultiDict({name: text}), meta={"csrf": False})
            field = form[name]
            inline = getattr(form_class, f"validate_{name}", None)  # as Form.validate calls it
            field.validate(form, [inline] if inline else [])
            assert (field.errors == []) is accepted, (len(text), field.errors)
            if accepted:
                assert field.data == counted  # one LF per line break, as every note is stored
