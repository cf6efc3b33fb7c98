"""deform wiring: widgets translate through the current request's localizer; the error summary
at the top of a refused form (themes/deform/form.pt)."""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import deform
from pyramid.i18n import get_localizer
from pyramid.threadlocal import get_current_request


def translator(term: Any) -> str:
    request = get_current_request()
    if request is None:
        return term.interpolate() if hasattr(term, "interpolate") else str(term)
    return get_localizer(request).translate(term)


@dataclass(frozen=True)
class SummaryItem:
    target: str  # the id of the field's item (themes/deform/mapping_item.pt): the link's anchor
    text: str


def error_summary(form: Any) -> list[SummaryItem]:
    """One line per error of a refused form, in the order of the fields: "标题：必填".

    The link goes to the field's item rather than its input: some widgets have no input of that
    id (a rich-text editor hides its textarea, a date-and-time field has two inputs), and the
    item is what the page should scroll to; forms.js moves the focus into it.
    """
    from .i18n import _

    items: list[SummaryItem] = []
    for child in form.children:
        error = child.error
        if error is None or child.widget.hidden:
            continue
        messages = [child.translate(m) for m in error.messages()]
        for sub in error.children:  # a list's items (the attachments) or a mapping's fields
            messages += [child.translate(m) for m in sub.messages()]
            messages += [child.translate(m) for grand in sub.children for m in grand.messages()]
        for message in messages or [child.translate(_("This field has an error"))]:
            text = child.translate(_("${field}: ${message}", mapping={"field": child.translate(child.title),
                                                                      "message": message}))
            items.append(SummaryItem(f"item-{child.oid}", text))
    return items


def includeme(config: Any) -> None:
    deform.Form.set_zpt_renderer((str(resources.files("themes") / "deform"),  # CSP nonces: portal.headers
                                  str(resources.files("deform").joinpath("templates"))), translator=translator)
    config.add_static_view("static-deform", "deform:static", cache_max_age=86400)
