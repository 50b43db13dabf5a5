"""QR codes as inline SVG (segno): vector, small, decodable at print size. The set of
addresses printed is small (the resources, the terms' hash), so each is made once."""

from __future__ import annotations

import io
from functools import lru_cache

import segno
from markupsafe import Markup


@lru_cache(maxsize=512)
def qr_svg(text: str) -> Markup:
    """An <svg> element encoding `text` (an address or a hash), without XML declaration,
    sized by the stylesheet's `.qr svg` rule. Never holds personal data: only public
    addresses and hashes are encoded."""
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="svg", xmldecl=False, svgns=True, nl=False,
                                     border=2, scale=4, omitsize=False)
    return Markup(buffer.getvalue().decode("utf-8"))  # noqa: S704 (segno's own markup)
