"""Security headers of every response, and the Content-Security-Policy with its per-request nonce.

Pages (HTML) get `PAGE_POLICY`: scripts only from our origin or inline with this request's nonce
(`request.csp_nonce`; themes write `nonce="${request.csp_nonce}"`, deform's widget templates are
overridden in themes/deform/ to do the same), no plugins, no `<base>` elsewhere, forms posting only
to us, framing only by ourselves. Styles may be inline: deform's widgets and TinyMCE write style
attributes and `<style>` blocks, and rich text keeps no style of its own (portal.sanitize), so
'unsafe-inline' there costs nothing that script-src does not already hold. Pictures may come from
anywhere over http(s): articles pasted from other government sites link their images.

Everything else -- JSON, downloads, image scales, static files -- gets `RESOURCE_POLICY`: nothing
may load and the document is sandboxed, so a file that a browser is somehow made to render as a
page still cannot run script or reach our origin. Stored files get theirs from `file_policy`.
"""
from __future__ import annotations

import secrets
from typing import Any

from pyramid.events import NewResponse
from pyramid.threadlocal import get_current_request

CSP = "Content-Security-Policy"

PAGE_POLICY = ("default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data: blob: http: https:; font-src 'self' data:; connect-src 'self'; "
               "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'")
RESOURCE_POLICY = "default-src 'none'; frame-ancestors 'self'; sandbox"
# Stored files (portal.views.files). Shown inline, a picture needs only the styles of the browser's
# own image page; the PDF viewer is not sandboxed because Chromium will not open it in a sandboxed
# document (it stops after loading its frame), and a PDF cannot run script in our origin anyway.
INLINE_IMAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"
INLINE_PDF_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"
DOWNLOAD_POLICY = RESOURCE_POLICY


def file_policy(media_type: str, inline: bool) -> str:
    """The policy of a stored file served as `media_type`, inline or as a download."""
    if not inline:
        return DOWNLOAD_POLICY
    return INLINE_PDF_POLICY if media_type == "application/pdf" else INLINE_IMAGE_POLICY

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def csp_nonce(request: Any) -> str:
    """This request's nonce: 128 random bits, new for every response."""
    return secrets.token_urlsafe(16)


def current_nonce() -> str:
    """The nonce of the request being rendered, for templates that are not given the request
    (deform's widget templates: `tal:define="nonce import: portal.headers.current_nonce"`)."""
    request = get_current_request()
    return request.csp_nonce if request is not None else ""


def security_headers(event: NewResponse) -> None:
    response, request = event.response, event.request
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if CSP not in headers and response.status_code != 304:  # a 304's headers go on the kept page
        if (response.content_type or "").lower() in HTML_TYPES:
            headers[CSP] = PAGE_POLICY.format(nonce=request.csp_nonce)
        else:
            headers[CSP] = RESOURCE_POLICY


def includeme(config: Any) -> None:
    config.add_request_method(csp_nonce, "csp_nonce", reify=True)
    config.add_subscriber(security_headers, NewResponse)
