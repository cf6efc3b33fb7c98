"""Colander building blocks shared by every content type's schema."""
from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

import colander
import deform

from .i18n import _
from .sanitize import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, sanitize_html

LOCAL_TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
# The years a date of the portal may have. Python's datetime stops at years 1 and 9999, so
# 0001-01-01 in Beijing time or 9999-12-31T23:59:59-12:00 cannot even be turned into UTC; no
# government document is dated outside this range.
MIN_YEAR, MAX_YEAR = 1900, 2200
DATE_OUT_OF_RANGE = _("Enter a date between the years ${start} and ${end}.",
                      mapping={"start": str(MIN_YEAR), "end": str(MAX_YEAR)})


def date_in_range(value: Any) -> bool:
    """Whether a date or datetime lies in MIN_YEAR..MAX_YEAR (as written: its own time zone)."""
    return not isinstance(value, (dt.date, dt.datetime)) or MIN_YEAR <= value.year <= MAX_YEAR


def check_date_range(node: colander.SchemaNode, value: Any) -> None:
    """Colander validator of every date field (portal.content checks every write again)."""
    if not date_in_range(value):
        raise colander.Invalid(node, DATE_OUT_OF_RANGE)


# A tag that starts a block: text holding one was written as HTML (the editor always writes <p>).
_BLOCK_TAG = re.compile(r"<\s*(p|div|h[1-6]|ul|ol|li|table|blockquote|pre|figure|hr|section|article)\b",
                        re.IGNORECASE)
_LINE_BREAKS = re.compile(r"\s*(?:\r\n|\r|\n)\s*")


def text_to_paragraphs(value: Any) -> Any:
    """Plain text (typed without the editor: JavaScript off, an API client) keeps its paragraphs:
    every line becomes a <p>, blank lines only separate them. HTML with block tags is left as is."""
    if not isinstance(value, str) or not value.strip() or _BLOCK_TAG.search(value):
        return value
    return "".join(f"<p>{line}</p>" for line in _LINE_BREAKS.split(value.strip()) if line)


def prepare_rich_text(value: Any) -> Any:
    """Paragraphs first, then the allowlist (portal.content sanitises once more when it writes)."""
    return sanitize_html(text_to_paragraphs(value)) if isinstance(value, str) else value


# TinyMCE (6, shipped with deform) in Chinese, offering only what portal.sanitize keeps: headings
# h2-h4 (h1 is the page title), lists, links, tables and images by URL, and no style attributes
# (valid_elements), so what the editor shows is what will be stored.
TINYMCE_OPTIONS = {
    "language": "zh-Hans",  # TinyMCE 6's name of zh_CN (langs/zh-Hans.js)
    "menubar": False,
    "branding": False,
    # no status bar: its element path and resize handle carry ARIA attributes that axe-core rejects
    # (aria-level on a button, aria-label on a div without a role; TinyMCE 6.7.3)
    "statusbar": False,
    "promotion": False,
    "height": 360,
    "plugins": "lists link table image autolink",
    "toolbar": "undo redo | blocks | bold italic | bullist numlist | link image table | removeformat",
    "block_formats": "Paragraph=p; Heading 2=h2; Heading 3=h3; Heading 4=h4",
    "valid_elements": ",".join(f"{tag}[{'|'.join(sorted(ALLOWED_ATTRIBUTES[tag]))}]" if tag in ALLOWED_ATTRIBUTES
                               else tag for tag in sorted(ALLOWED_TAGS)),
    "table_default_attributes": {},
    "table_default_styles": {},
    "table_use_colgroups": False,
    "link_target_list": False,
    "link_default_protocol": "https",
    "paste_data_images": False,
    "convert_urls": False,  # links stay as written, not relative to the form's URL
    "entity_encoding": "raw",
}


def rich_text(**kw: Any) -> colander.SchemaNode:
    """HTML that is sanitised on the way in, so what is stored is already safe to render."""
    return colander.SchemaNode(colander.String(), preparer=prepare_rich_text, missing="",
                               widget=deform.widget.RichTextWidget(delayed_load=False, options=TINYMCE_OPTIONS),
                               **kw)


def text_line(title: Any, missing: Any = "", max_length: int = 200, validator: Any = None,
              **kw: Any) -> colander.SchemaNode:
    length = colander.Length(max=max_length)
    return colander.SchemaNode(colander.String(), title=title, missing=missing,
                               validator=colander.All(length, validator) if validator else length, **kw)


def choice(title: Any, values: tuple[str, ...], missing: Any = colander.required, **kw: Any) -> colander.SchemaNode:
    return colander.SchemaNode(colander.String(), title=title, missing=missing,
                               validator=colander.OneOf(values),
                               widget=deform.widget.SelectWidget(values=[("", "—")] + [(v, v) for v in values]),
                               **kw)


def local_datetime(title: Any, **kw: Any) -> colander.SchemaNode:
    """A moment typed in Beijing time; stored as naive UTC (see portal.content)."""
    return colander.SchemaNode(colander.DateTime(default_tzinfo=LOCAL_TZ), title=title, missing=None,
                               validator=check_date_range, widget=deform.widget.DateTimeInputWidget(), **kw)


def local_date(title: Any, **kw: Any) -> colander.SchemaNode:
    """A calendar date (e.g. the 成文日期 of a document), within MIN_YEAR..MAX_YEAR."""
    return colander.SchemaNode(colander.Date(), title=title, missing=None, validator=check_date_range,
                               widget=deform.widget.DateInputWidget(), **kw)


def base_schema(request: Any, node: Any = None) -> colander.SchemaNode:
    schema = colander.SchemaNode(colander.Mapping(unknown="ignore"))
    schema.add(colander.SchemaNode(colander.String(), name="title", title=_("Title"),
                                   validator=colander.Length(min=1, max=500)))
    schema.add(colander.SchemaNode(colander.String(), name="description", title=_("Summary"), missing="",
                                   validator=colander.Length(max=2000),
                                   widget=deform.widget.TextAreaWidget(rows=3)))
    return schema


# Groups of fields (plone.restapi's fieldsets, in the JSON schema of a type): a schema node
# names its group with `fieldset=`, the others are in "default".
FIELDSETS = {"default": _("Default"), "dates": _("Dates")}


def add_dates(schema: colander.SchemaNode) -> colander.SchemaNode:
    schema.add(local_datetime(_("Effective from"), name="effective", fieldset="dates",
                              description=_("Not shown to the public before this time")))
    schema.add(local_datetime(_("Expires"), name="expires", fieldset="dates",
                              description=_("Not shown to the public from this time on")))
    return schema


def check_dates(node: colander.SchemaNode, value: dict[str, Any]) -> None:
    start, end = value.get("effective"), value.get("expires")
    if isinstance(start, dt.datetime) and isinstance(end, dt.datetime) and end <= start:
        exc = colander.Invalid(node)
        exc["expires"] = _("The expiry date must be after the effective date")
        raise exc


def to_local(value: dt.datetime | None) -> dt.datetime | None:
    """Naive UTC from the database as Beijing time, for forms and pages."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.timezone.utc).astimezone(LOCAL_TZ)
