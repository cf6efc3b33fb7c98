"""Huangmei Portal: the county government portal and its unit sub-sites."""
from __future__ import annotations

from typing import Any

from pyramid.config import Configurator

from .pagecache import wrap
from .registry import type_packages
from .settings import portal_settings


def main(global_config: dict[str, Any] | None, **settings: Any) -> Any:
    """The WSGI application; a bad setting stops it here (`portal.settings.SettingsError`)."""
    settings.setdefault("pyramid.default_locale_name", "zh_CN")
    with Configurator(settings=settings) as config:
        config.include("portal")
        for package in type_packages():  # content types: entry point group portal.content_types
            config.include(package)
        for package in portal_settings(config.registry).includes:
            config.include(package)
    return wrap(config.make_wsgi_app())  # kept pages are served before Pyramid (portal.pagecache)


def includeme(config: Configurator) -> None:
    config.include(".settings")  # first: everything below reads the parsed settings
    config.include("pyramid_chameleon")
    config.include(".models")
    config.include(".registry")
    config.include(".home")
    config.include(".security")
    config.include(".headers")
    config.include(".compression")
    config.include(".pagecache")
    config.include(".traversal")
    config.include(".storage")
    config.include(".i18n")
    config.include(".forms")
    config.include(".units")
    config.include("themes")
    config.include(".feeds")
    config.include(".views.site")  # its route; its views are scanned below
    config.scan(".views")
    config.scan(".api")
