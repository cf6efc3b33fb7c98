"""Differences between two revisions, field by field, as escaped HTML with <ins> and <del>."""
from __future__ import annotations

import difflib
import json
from html import escape
from typing import Any, Sequence

from .sanitize import html_to_text

def as_text(value: Any, html: bool = False) -> str:
    if value is None:
        return ""
    if html and isinstance(value, str):
        return html_to_text(value)
    if isinstance(value, dict) and "filename" in value:
        return f"{value['filename']} ({value.get('hash', '')[:12]})"
    if isinstance(value, list):
        return "\n".join(as_text(v) for v in value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def inline_diff(old: str, new: str) -> str:
    """Character-level diff (Chinese has no spaces between words)."""
    out = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            out.append(escape(old[a1:a2]))
        if op in ("delete", "replace"):
            out.append(f"<del>{escape(old[a1:a2])}</del>")
        if op in ("insert", "replace"):
            out.append(f"<ins>{escape(new[b1:b2])}</ins>")
    return "".join(out)


def diff_revisions(fields: Sequence[str], old: dict[str, Any], new: dict[str, Any],
                   html_fields: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(field, diff html) for every field that differs; `html_fields` are compared as text."""
    changes = []
    for name in fields:
        html = name in html_fields
        a, b = as_text(old.get(name), html), as_text(new.get(name), html)
        if a != b:
            changes.append((name, inline_diff(a, b)))
    return changes
