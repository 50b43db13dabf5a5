"""Markdown of the guide to HTML: no raw HTML passes, links and images point into the app, and
headings get GitHub's anchors so that `page.md#heading` works in the app as on GitHub."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from markdown_it import MarkdownIt

# `checkin.md`, `checkin.md#walk-in`: another page of the guide (the anchor as markdown-it
# normalised it, percent-encoded).
_PAGE_LINK = re.compile(r"^([a-z0-9][a-z0-9-]*)\.md(?:#(\S*))?$")
# `../img/fr/checkin.png`: a screenshot.
_IMAGE = re.compile(r"^\.\./img/([a-z]{2})/([a-z0-9][a-z0-9-]*)\.png$")
_NOT_IN_SLUG = re.compile(r"[^\w\- ]")

# "commonmark" with html off: raw HTML in the Markdown is shown as text, escaped.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


@dataclass(frozen=True)
class Rendered:
    title: str
    html: str


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lowercase, punctuation dropped, spaces to dashes."""
    return _NOT_IN_SLUG.sub("", heading.strip().lower()).replace(" ", "-")


def render(text: str, page_url: Callable[[str, str], str],
           image_url: Callable[[str, str], str]) -> Rendered:
    """Render a guide page. `page_url(page, anchor)` and `image_url(lang, name)` build the
    app's addresses for the guide's relative links (`prepare.md`, `../img/fr/x.png`)."""
    tokens = _MARKDOWN.parse(text)
    title, seen = "", {}
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            words = "".join(child.content for child in tokens[index + 1].children or ()
                            if child.type in ("text", "code_inline"))
            anchor = slug(words)
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            token.attrSet("id", anchor if not count else f"{anchor}-{count}")
            if not title and token.tag == "h1":
                title = tokens[index + 1].content
        for child in token.children or ():
            _rewrite(child, page_url, image_url)
    return Rendered(title=title, html=_MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {}))


def _rewrite(token, page_url, image_url) -> None:
    if token.type == "link_open":
        match = _PAGE_LINK.match(token.attrGet("href") or "")
        if match:
            token.attrSet("href", page_url(match.group(1), match.group(2) or ""))
    elif token.type == "image":
        match = _IMAGE.match(token.attrGet("src") or "")
        if match:
            token.attrSet("src", image_url(match.group(1), match.group(2)))
