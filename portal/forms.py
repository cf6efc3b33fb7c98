"""deform wiring: widgets translate through the current request's localizer."""
from __future__ import annotations

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


def includeme(config: Any) -> None:
    deform.Form.set_zpt_renderer((str(resources.files("themes") / "deform"),  # CSP nonces: portal.headers
                                  str(resources.files("deform").joinpath("templates"))), translator=translator)
    config.add_static_view("static-deform", "deform:static", cache_max_age=86400)
