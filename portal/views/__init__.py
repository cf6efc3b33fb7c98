"""Page views of the core, chosen by the context's type and the view name."""
from __future__ import annotations

from typing import Any

TEMPLATES = "themes:default/templates/"


def template(name: str) -> str:
    return f"{TEMPLATES}{name}"


def flash(request: Any, message: Any) -> None:
    request.session.flash(request.localizer.translate(message))
