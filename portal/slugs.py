"""URL names from titles: pinyin (pypinyin), lower-case ASCII, unique among siblings."""
from __future__ import annotations

import re

from pypinyin import lazy_pinyin

from .models import Node

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
MAX_LENGTH = 60


def slugify(title: str) -> str:
    # syllables of consecutive Chinese characters come as separate items: glue them back together
    words = lazy_pinyin(title, errors="default")
    text = re.sub(r"[^a-zA-Z0-9]+", "-", "".join(words)).strip("-").lower()
    if len(text) > MAX_LENGTH:
        text = text[:MAX_LENGTH].rstrip("-")
    return text or "item"


def valid_name(name: str) -> bool:
    return bool(NAME_RE.fullmatch(name))


def unique_name(container: Node, base: str, taken: set[str] | None = None) -> str:
    taken = set(container.keys()) if taken is None else taken
    name, n = base, 2
    while name in taken:
        name = f"{base}-{n}"
        n += 1
    return name
