"""Themes: templates and static files. `default/` is the plain first theme.

Every template gets `layout` (see themes.layout), the one object that knows the site chrome:
settings, navigation, breadcrumbs, the staff toolbar.
"""
from typing import Any

from pyramid.events import BeforeRender


def add_layout(event: BeforeRender) -> None:
    from .layout import Layout

    request = event.get("request")
    if request is not None and "layout" not in event:
        event["layout"] = Layout(request, event.get("context", getattr(request, "context", None)))


def includeme(config: Any) -> None:
    config.add_static_view("static", "themes:default/static", cache_max_age=3600)
    config.add_subscriber(add_layout, BeforeRender)
