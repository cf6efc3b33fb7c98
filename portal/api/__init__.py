"""The JSON API, plone.restapi 10.x: the content URLs themselves answer JSON, plus `@` endpoints.

    GET/POST/PATCH/DELETE <item>       read, create a child, edit, delete        (api.content)
    POST <item>/@workflow/<name>       run a transition; GET: state, history     (api.workflow)
    GET/PATCH <item>/@history          revisions and transitions; revert          (api.workflow)
    GET/POST <item>/@sharing           local roles                                (api.sharing)
    GET <item>/@breadcrumbs, @navigation, @actions; `@components` (api.navigation, api.components)
    GET <item>/@types[/<type>]         types; a type's JSON schema                (api.types)
    GET <item>/@vocabularies[/<name>]  the lists of values                        (api.vocabularies)
    GET /@users, /@groups              accounts, for managers                     (api.users)
    POST /@login, @login-renew, @logout  Bearer tokens                            (api.auth)
    GET <item>/@search                 is the search package's (search.api, on api.query)

The shapes are plone.restapi's (docs/api.md says where ours differ and what is ours);
tests/functional/test_restapi_conformance.py checks them against its documented examples.

Which requests are API requests (`is_api_request`): JSON preferred by `Accept` (a browser's
`*/*;q=0.8` does not count, nor does a missing header), a JSON body, a Bearer token, PATCH and
DELETE, and the `@name` endpoints (pages use `@@name`). A custom view predicate, not
`accept="application/json"`: Pyramid's accept predicate also matches `*/*`, so browsers would get
JSON.

Why the item views are registered once per content class (`item_view`): Pyramid looks views up by
the context's class first, so a type's own page (the portal home, a unit home, a disclosure)
would win over a view registered for `Node`. Registering the JSON views on every mapped class,
with more predicates than the page, puts them first in each class's view list; requests that are
not API requests fall through to the page.

`portal/__init__.py` scans this package rather than including it; `config_hook` is how a scanned
package registers more than views (here the predicate and the per-class views).
"""
from __future__ import annotations

from typing import Any, Callable

import venusian
from sqlalchemy import inspect

from ..models import Node
from ..security import bearer_token

API_METHODS = ("PATCH", "DELETE")


def is_api_request(request: Any) -> bool:
    """True when the client speaks JSON to us; see the module docstring."""
    view_name = getattr(request, "view_name", "") or ""
    if view_name.startswith("@") or request.method in API_METHODS:
        return True
    if request.content_type == "application/json" or bearer_token(request) is not None:
        return True
    offers = request.accept.acceptable_offers(["text/html", "application/json"])
    return bool(offers) and offers[0][0] == "application/json"


class APIRequestPredicate:
    """View predicate `api_request=True|False`."""

    def __init__(self, value: bool, config: Any) -> None:
        self.value = bool(value)

    def text(self) -> str:
        return f"api_request = {self.value}"

    phash = text

    def __call__(self, context: Any, request: Any) -> bool:
        return is_api_request(request) == self.value


def config_hook(func: Callable[[Any], None]) -> Callable[[Any], None]:
    """Call `func(config)` when `config.scan()` reaches it."""
    def callback(context: Any, name: str, ob: Any) -> None:
        ob(context.config.with_package(info.module))
    info = venusian.attach(func, callback, category="pyramid")
    return func


def node_classes() -> list[type[Node]]:
    """Every mapped content class (known once all packages are included, i.e. at commit)."""
    return [mapper.class_ for mapper in inspect(Node).self_and_descendants]


def item_view(**settings: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Like `view_config(context=Node, api_request=True, **settings)`, on every content class."""
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        def callback(context: Any, name: str, ob: Any) -> None:
            config = context.config.with_package(info.module)

            def register() -> None:  # an action: runs at commit, after every type is imported
                for cls in node_classes():
                    config.add_view(ob, context=cls, api_request=True, **settings)
            config.action(None, register)
        info = venusian.attach(view, callback, category="pyramid")
        return view
    return decorate


@config_hook
def setup(config: Any) -> None:
    config.add_view_predicate("api_request", APIRequestPredicate)
