"""Rich-text sanitizing for article bodies, applied **on write**.

Editors paste HTML from Word, WPS and other web sites into the rich-text
widget; that HTML is untrusted.  Rather than escaping (or re-cleaning) it on
every page view, we clean it once, when it is saved, so that whatever is in the
database is already safe to render with ``structure`` in the templates.

The cleaner is an **allowlist** (``nh3``, i.e. the Rust *Ammonia* library
driving an html5ever parser that parses exactly like a browser does): only the
tags, attributes and URL schemes listed below survive, everything else is
dropped.  A denylist would have to anticipate every new attack; an allowlist
only has to describe what a government article legitimately needs:

* structure and emphasis: headings (``h2``–``h6``; ``h1`` is the page title),
  paragraphs, lists, quotes, tables, figures, ``pre``/``code``;
* links (``href``, ``title``) and images (``src``, ``alt``, ``width``,
  ``height``, ``title``);
* **no** ``style`` attribute at all (CSS ``expression()``, ``url(javascript:)``,
  overlays that fake the site chrome), **no** ``class``/``id`` (the theme
  styles the markup; ids could clobber DOM globals), no event handlers;
* URL schemes ``http``, ``https``, ``mailto`` and relative URLs only, so
  ``javascript:``, ``vbscript:`` and ``data:`` are removed however they are
  disguised (entities, embedded tabs/newlines, case, leading blanks); the
  browser-grade URL parser in Ammonia normalises them the way a browser would;
* links get ``rel="noopener noreferrer"``; comments are removed;
* the *content* of ``script``, ``style``, ``iframe``, ``svg``, ``math`` and
  similar elements is removed together with the tag, not left behind as text.

``html_to_text`` gives the plain text of (sanitized) HTML for the search index
and for snippets in listings.
"""
from __future__ import annotations

import re
from typing import Final

import lxml.etree
import lxml.html
import nh3

__all__ = ["sanitize_html", "html_to_text", "ALLOWED_TAGS", "ALLOWED_ATTRIBUTES", "ALLOWED_URL_SCHEMES"]

ALLOWED_TAGS: Final[frozenset[str]] = frozenset(
    {
        "p", "br", "hr", "div", "span",
        "h2", "h3", "h4", "h5", "h6",
        "strong", "b", "em", "i", "u", "s", "sub", "sup",
        "blockquote", "pre", "code",
        "ul", "ol", "li",
        "a", "img",
        "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td",
        "figure", "figcaption",
    }
)

ALLOWED_ATTRIBUTES: Final[dict[str, frozenset[str]]] = {
    "a": frozenset({"href", "title"}),
    "img": frozenset({"src", "alt", "width", "height", "title"}),
    "th": frozenset({"colspan", "rowspan"}),
    "td": frozenset({"colspan", "rowspan"}),
}

ALLOWED_URL_SCHEMES: Final[frozenset[str]] = frozenset({"http", "https", "mailto"})

# Elements removed *with* their content (plain disallowed tags are unwrapped and
# their text kept, which is right for e.g. <font> or <section> but not for
# script source, style sheets or embedded documents).  Must be disjoint from
# ALLOWED_TAGS.
DROPPED_WITH_CONTENT: Final[frozenset[str]] = frozenset(
    {
        "script", "style", "template", "noscript", "noembed", "noframes", "xmp",
        "iframe", "frame", "frameset", "object", "embed", "applet",
        "svg", "math",
        "textarea", "select", "title",
    }
)

# C0 control characters other than tab, LF, FF and CR, plus lone surrogates:
# never legitimate in an article, not allowed in XML (lxml refuses them), not
# encodable as UTF-8 (nh3 refuses those), and NUL is a classic way to split a
# keyword such as "java\0script:".
_CONTROL_CHARS: Final[re.Pattern[str]] = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ud800-\udfff]")

_CLEANER: Final[nh3.Cleaner] = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
    url_schemes=set(ALLOWED_URL_SCHEMES),
    url_relative="pass_through",
    link_rel="noopener noreferrer",
    strip_comments=True,
)


def sanitize_html(html: str | None) -> str:
    """Return ``html`` reduced to the allowlist; ``None`` or empty gives ``""``.

    Call this when rich text is stored; the result can be rendered unescaped.
    """
    if not html:
        return ""
    html = _CONTROL_CHARS.sub("", str(html))
    return _CLEANER.clean(html).strip()


# Elements whose boundaries separate lines of text.
_BLOCK_TAGS: Final[frozenset[str]] = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "dd", "details",
        "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
        "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "html", "li", "main",
        "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "tfoot",
        "thead", "tr", "ul",
    }
)
# Table cells are separated by a space within their row.
_CELL_TAGS: Final[frozenset[str]] = frozenset({"td", "th"})
# Elements whose content is never readable text.
_SKIP_TAGS: Final[frozenset[str]] = frozenset(
    {"script", "style", "template", "noscript", "head", "title", "iframe", "object", "embed", "svg", "math"}
)
# HTML whitespace plus the ideographic space (U+3000) common in Chinese text.
_SPACES: Final[re.Pattern[str]] = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")

_NEWLINE: Final[str] = "\n"


def html_to_text(html: str | None) -> str:
    """Plain text of ``html`` for search indexing and snippets.

    Runs of whitespace become one space; block elements (paragraphs, headings,
    list items, table rows, ``<br>``) become line breaks, with no blank lines.
    Script/style content and comments are ignored.  Never raises: empty or
    unparseable input gives ``""``.
    """
    if not html:
        return ""
    text = _CONTROL_CHARS.sub("", str(html))
    if not text.strip():
        return ""
    try:
        # A whole document rather than a fragment: lxml's fragment helpers
        # assert on input such as a bare "<html>", and libxml2 wraps fragments
        # in <html><body> anyway.  <head> content is skipped below.
        root = lxml.html.document_fromstring(text)
    except Exception:  # noqa: BLE001 - garbage in must give "" out, never an error
        return ""

    parts: list[str] = []
    _collect(root, parts)
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(parts).split(_NEWLINE))
    return _NEWLINE.join(line for line in lines if line)


def _collect(element: lxml.etree._Element, parts: list[str]) -> None:
    """Append the text of ``element`` (not its tail) to ``parts``."""
    tag = element.tag if isinstance(element.tag, str) else ""  # comments, PIs
    tag = tag.lower()
    if tag and tag not in _SKIP_TAGS:
        if tag == "br":
            parts.append(_NEWLINE)
        elif tag in _BLOCK_TAGS:
            parts.append(_NEWLINE)
        elif tag in _CELL_TAGS:
            parts.append(" ")
        if element.text:
            parts.append(_whitespace_to_space(element.text))
        for child in element:
            _collect(child, parts)
            if child.tail:
                parts.append(_whitespace_to_space(child.tail))
        if tag in _BLOCK_TAGS:
            parts.append(_NEWLINE)
        elif tag in _CELL_TAGS:
            parts.append(" ")


def _whitespace_to_space(text: str) -> str:
    # Newlines in the source are just whitespace; only elements make line breaks.
    return text.replace("\r", " ").replace("\n", " ")
