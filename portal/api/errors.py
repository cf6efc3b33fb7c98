"""The JSON of every API failure, in plone.restapi's two shapes, and exception views that give it
to API requests only.

An endpoint's refusal of what was sent (400, 409, 412, 429, and `@login`'s own 401) is
plone.restapi's services' shape, with our per-field errors:

    {"error": {"type": "BadRequest", "message": "...", "errors": [{"field": "title", "message": "..."}]}}

A refusal before any endpoint ran -- not logged in (401), not allowed (403), missing (404), a
method the URL does not take (405), a failure (500) -- is plone.rest's error view's shape, whose
`context` is the URL of the nearest item above that the request may view:

    {"type": "NotFound", "message": "...", "context": "http://example.com/huangmeizhen"}

Pages keep their HTML error pages (portal.views.errors): every view here has `api_request=True`,
which sorts it before the page's view of the same exception. An anonymous request refused for
want of permission is 401 here (a page would redirect to the login form), a logged-in one 403 --
unless the item is one the request may not view at all: then it is the 404 of a missing item, as
for pages (`portal.views.errors.as_missing`), so guessed names and private 索引号 stay unconfirmed.

Views raise `APIError`; the exception makes pyramid_tm abort the request's transaction, so the
blob store removes the files written by a failed request and no half-made change is committed.
"""
from __future__ import annotations

import json
import logging
from typing import Any

import colander
import transaction
from pyramid.exceptions import BadCSRFOrigin, BadCSRFToken
from pyramid.httpexceptions import HTTPException, HTTPForbidden, HTTPMovedPermanently, HTTPNotFound, status_map
from pyramid.response import Response
from pyramid.view import exception_view_config
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..content import CHANGED_MEANWHILE, VALUES_TAKEN, Conflict, ContentError, Forbidden, Taken
from ..i18n import _
from ..models import Node
from ..views.errors import as_missing, find_redirect, hidden, refused_node
from . import config_hook

log = logging.getLogger(__name__)

TYPES = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
    409: "Conflict", 412: "PreconditionFailed", 413: "RequestEntityTooLarge", 415: "UnsupportedMediaType",
    429: "TooManyRequests", 500: "InternalServerError",
}

# API names of the fields portal.content reports on.
CONTENT_FIELDS = {"name": "id"}


class APIError(Exception):
    """A refused API request: status, a message (translation string) and per-field errors."""

    def __init__(self, status: int, message: Any, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(str(message))
        self.status = status
        self.message = message
        self.errors = errors or []
        self.headers = headers or {}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """UTF-8 JSON without \\u escapes, so Chinese text stays readable."""
    response = Response(status=status, content_type="application/json", charset="utf-8")
    if status != 204:
        response.text = json.dumps(data, ensure_ascii=False)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def field_error(request: Any, field: str | None, message: Any) -> dict[str, Any]:
    return {"field": field, "message": request.localizer.translate(message)}


def error_response(request: Any, status: int, message: Any, errors: list[dict[str, Any]] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"type": TYPES.get(status, "Error"), "message": request.localizer.translate(message),
                      "errors": errors or []}}
    return json_response(body, status, headers)


def doom(request: Any) -> None:
    """Make sure the request's transaction is not committed (it may be over already)."""
    try:
        request.tm.doom()
    except (transaction.interfaces.NoTransaction, AttributeError):
        pass


def invalid_errors(request: Any, exc: colander.Invalid) -> list[dict[str, Any]]:
    """colander's error report as a list of translated field errors ('' = the whole item -> None)."""
    return [{"field": field or None, "message": message}
            for field, message in exc.asdict(translate=request.localizer.translate).items()]


def invalid(request: Any, exc: colander.Invalid) -> APIError:
    return APIError(400, _("Some fields are not valid"), invalid_errors(request, exc))


def content_error(request: Any, exc: ContentError, status: int | None = None) -> APIError:
    """portal.content's refusal as an API error: 409 when the item or a unique value was taken by
    someone else meanwhile, else 400 (`status` overrides, e.g. 412 for a stale If-Match)."""
    if status is None:
        status = 409 if isinstance(exc, (Conflict, Taken)) else 400
    message = exc.message
    errors = [field_error(request, CONTENT_FIELDS.get(exc.field, exc.field), message)] if exc.field else []
    return APIError(status, message, errors)


def nearest_viewable(request: Any) -> str:
    """The URL of the request's context or of the first item above it that the request may view
    (a hidden item's answer must not differ from a missing one's: both name what is above)."""
    for node in getattr(getattr(request, "context", None), "lineage", lambda: ())():
        if isinstance(node, Node) and request.has_permission("view", node):
            return request.resource_url(node).rstrip("/")
    return request.application_url


def refusal(request: Any, status: int, message: Any, headers: dict[str, str] | None = None) -> Response:
    """plone.rest's shape: `{"type", "message", "context"}` (no `context` for a failure: the
    database may refuse every query by then)."""
    body = {"type": TYPES.get(status, "Error"), "message": request.localizer.translate(message)}
    if status < 500:
        body["context"] = nearest_viewable(request)
    return json_response(body, status, headers)


def unauthorized(request: Any) -> Response:
    return refusal(request, 401, _("Log in first: send the token from @login as 'Authorization: Bearer'"),
                   headers={"WWW-Authenticate": 'Bearer realm="portal"'})


@exception_view_config(APIError)
def api_error_view(exc: APIError, request: Any) -> Response:
    doom(request)
    return error_response(request, exc.status, exc.message, exc.errors, exc.headers)


@exception_view_config(HTTPForbidden, api_request=True)
@exception_view_config(Forbidden, api_request=True)
def forbidden_view(exc: HTTPForbidden | Forbidden, request: Any) -> Response:
    """Refused by a view's permission or by portal.content (the action's own check)."""
    doom(request)
    if hidden(request, refused_node(request, exc)):
        return as_missing(request)
    if request.identity is None:
        return unauthorized(request)
    return refusal(request, 403, _("You are not allowed to do this"))


@exception_view_config(ContentError, api_request=True)
def content_error_view(exc: ContentError, request: Any) -> Response:
    """A refusal of portal.content that a view left to us."""
    return api_error_view(content_error(request, exc), request)


@exception_view_config(HTTPNotFound, api_request=True)
def notfound_view(exc: HTTPNotFound, request: Any) -> Response:
    """Old URLs of renamed items redirect, as for pages (308 keeps the method and body)."""
    target = find_redirect(request)
    if target is not None:
        if request.method in ("GET", "HEAD"):
            return HTTPMovedPermanently(target)
        return Response(status=308, location=target)
    return refusal(request, 404, _("Not found"))


def http_error_view(exc: HTTPException, request: Any) -> Response:
    if exc.code < 400:
        return exc
    if isinstance(exc, (BadCSRFToken, BadCSRFOrigin)):
        message = _("A request with the session cookie must carry the CSRF token; send JSON or a Bearer token")
    else:
        message = exc.detail or exc.explanation or exc.title
    if exc.code == 400:
        return error_response(request, exc.code, message)
    return refusal(request, exc.code, message)


@config_hook
def json_for_every_status(config: Any) -> None:
    """On each HTTP error class: a page's view for one of them (e.g. 400) must not answer the API."""
    classes = {HTTPException, *(cls for code, cls in status_map.items() if code >= 400)}
    for cls in classes - {HTTPForbidden, HTTPNotFound}:
        config.add_exception_view(http_error_view, context=cls, api_request=True)


@exception_view_config(StaleDataError, api_request=True)
def stale_view(exc: StaleDataError, request: Any) -> Response:
    """Two saves of one item raced and the other won (the version column caught it)."""
    return error_response(request, 409, CHANGED_MEANWHILE)


@exception_view_config(IntegrityError, api_request=True)
def integrity_view(exc: IntegrityError, request: Any) -> Response:
    """A unique value taken by another item, outside portal.content's actions (which name it)."""
    return error_response(request, 409, VALUES_TAKEN)


@exception_view_config(Exception, api_request=True)
def internal_error_view(exc: Exception, request: Any) -> Response:
    log.exception("API request failed: %s %s", request.method, request.path_info, exc_info=exc)
    return refusal(request, 500, _("Something went wrong on our side; the change was not saved"))
