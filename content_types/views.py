"""Item pages of the content types that need more than the core's generic page."""
from __future__ import annotations

from typing import Any

from pyramid.view import view_config

from portal.views.pages import item_view

from .disclosure import Disclosure, superseding_document


@view_config(context=Disclosure, permission="view", renderer="themes:default/templates/disclosure.pt")
def disclosure_view(context: Disclosure, request: Any) -> dict[str, Any]:
    return {**item_view(context, request), "superseding": superseding_document(request, context)}
