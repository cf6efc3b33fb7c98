"""plone.restapi's `text`: the one place where its rich-text field meets ours.

plone.restapi sends and reads rich text as `"text": {"data": "<p>…</p>", "content-type":
"text/html", "encoding": "utf-8"}`. Our types name their rich-text field themselves (`body` for
pages, news and disclosures) and list it in `TypeInfo.html_fields`; a type with exactly one such
field answers `text` for it, on read (api.serialize), on write (api.fields) and in its JSON
schema (api.types). The field's own name keeps working for the clients written against it.
"""
from __future__ import annotations

from typing import Any

from ..i18n import _
from ..registry import TypeInfo
from .errors import APIError, field_error

TEXT = "text"
MIME_TYPE = "text/html"
NOT_RICH_TEXT = _('Must be rich text: {"data": "<p>…</p>", "content-type": "text/html", "encoding": "utf-8"} '
                  'or the HTML as text')


def text_field(info: TypeInfo | None) -> str | None:
    """The field `text` stands for in this type, or None when it has no single rich-text field."""
    if info is None or len(info.html_fields) != 1:
        return None
    return info.html_fields[0]


def as_rich_text(html: Any) -> dict[str, str] | None:
    """The stored HTML as plone.restapi writes it; null when empty, as plone.restapi does."""
    if not html:
        return None
    return {"data": html, "content-type": MIME_TYPE, "encoding": "utf-8"}


def html_of(request: Any, value: Any) -> Any:
    """The HTML of a `text` sent by a client: the object plone.restapi sends, or the HTML itself,
    or null (empty). Its `content-type` may be any text type: what is stored is sanitised HTML
    either way (plain text keeps its paragraphs, see portal.schemas.text_to_paragraphs)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("data"), str) and set(value) <= {
            "data", "content-type", "encoding"}:
        kind, encoding = value.get("content-type", MIME_TYPE), value.get("encoding", "utf-8")
        if isinstance(kind, str) and kind.startswith("text/") and isinstance(encoding, str) and \
                encoding.lower().replace("-", "") == "utf8":
            return value["data"]
    raise APIError(400, _("Some fields have the wrong type"), [field_error(request, TEXT, NOT_RICH_TEXT)])


def text_in(request: Any, info: TypeInfo, body: dict[str, Any], current: Any = None) -> dict[str, Any]:
    """The body with `text` sent under the type's own field name (the caller refuses a `text` the
    type has no field for: it is an unknown field there).

    An item read with GET carries both; sent back, the one that differs from the `current` value
    is the change. Both changed, to different texts, is a 400: we would have to guess."""
    field = text_field(info)
    if TEXT not in body or field is None:
        return body
    body = dict(body)
    html = html_of(request, body.pop(TEXT))
    if field in body and body[field] != html:
        if html == current:
            return body
        if body[field] != current:
            raise APIError(400, _("Some fields are not valid"),
                           [field_error(request, TEXT, _("Send the text once: as text or as ${field}",
                                                         mapping={"field": field}))])
    body[field] = html
    return body
