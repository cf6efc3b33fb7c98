"""Huangmei Portal: the county government portal and its unit sub-sites."""
from __future__ import annotations

from typing import Any

from pyramid.config import Configurator


def main(global_config: dict[str, Any] | None, **settings: Any) -> Any:
    """The WSGI application."""
    settings.setdefault("pyramid.default_locale_name", "zh_CN")
    with Configurator(settings=settings) as config:
        config.include("portal")
        for package in settings.get("portal.includes", "content_types search.integration").split():
            config.include(package)
    return config.make_wsgi_app()


def includeme(config: Configurator) -> None:
    config.include("pyramid_chameleon")
    config.include(".models")
    config.include(".registry")
    config.include(".security")
    config.include(".traversal")
    config.include(".storage")
    config.include(".i18n")
    config.include(".forms")
    config.include(".units")
    config.include("themes")
    config.scan(".views")
    config.scan(".api")
