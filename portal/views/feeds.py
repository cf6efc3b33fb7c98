"""The feeds of a column, a unit and the portal: `<url>/@@rss.xml` and `<url>/@@atom.xml`
(portal.feeds builds them)."""
from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPNotFound
from pyramid.view import view_config

from ..feeds import ATOM, RSS, VIEW_NAMES, context_feed
from ..models import Node


@view_config(context=Node, name=VIEW_NAMES[RSS], permission="view")
@view_config(context=Node, name=VIEW_NAMES[ATOM], permission="view")
def feed(context: Node, request: Any) -> Any:
    """Containers have feeds (a column, a unit, the portal); an article has none."""
    if not context.folderish:
        raise HTTPNotFound()
    return context_feed(request, context, RSS if request.view_name == VIEW_NAMES[RSS] else ATOM)
