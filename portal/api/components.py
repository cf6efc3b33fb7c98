"""plone.restapi's `@components`: links from an item to the endpoints about it, expanded in place
when asked for with `?expand=breadcrumbs,workflow` (repeated `expand` works too).

Each component is one function, `(request, node) -> dict` (or a list, which then stands for the
whole entry, as plone.restapi's `types` does), registered with `@expandable(name)` by the module
of its endpoint (api.navigation, api.types, api.workflow); the endpoint answers the same value
(a dict with its `@id`), so a component and its endpoint cannot disagree.
"""
from __future__ import annotations

from typing import Any, Callable

from ..models import Node

Expander = Callable[[Any, Node], Any]
EXPANDERS: dict[str, Expander] = {}


def expandable(name: str) -> Callable[[Expander], Expander]:
    def register(func: Expander) -> Expander:
        EXPANDERS[name] = func
        return func
    return register


def expanded(request: Any) -> set[str]:
    return {name.strip() for value in request.params.getall("expand") for name in value.split(",")}


def endpoint_url(request: Any, node: Node, name: str) -> str:
    return f"{request.resource_url(node).rstrip('/')}/@{name}"


def component(request: Any, node: Node, name: str) -> Any:
    """The endpoint's answer: its `@id` and what its expander says."""
    value = EXPANDERS[name](request, node)
    return {"@id": endpoint_url(request, node, name), **value} if isinstance(value, dict) else value


def components(request: Any, node: Node) -> dict[str, Any]:
    wanted = expanded(request)
    return {name: component(request, node, name) if name in wanted else {"@id": endpoint_url(request, node, name)}
            for name in sorted(EXPANDERS)}
