"""URL names from titles: pinyin (pypinyin), lower-case ASCII, unique among siblings."""
from __future__ import annotations

import re
import zlib

from pypinyin import lazy_pinyin
from sqlalchemy import Integer, cast, func, or_, select
from sqlalchemy.orm import object_session

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


def free_name(container: Node, base: str) -> str:
    """`unique_name` against the names the database holds now, not only the loaded children.

    After a concurrent creation took a name (PostgreSQL reads each statement at READ COMMITTED),
    the container's loaded `children` do not know it; asking the database finds the next free one.
    On PostgreSQL, creations of the same base name in the same container also queue here (a lock
    held until the transaction ends), so the next one reads the name the previous one committed
    instead of picking it too: N same-title items created at once get N names, where bare retries
    lost again to every creation that committed meanwhile. (SQLite's writers queue as a whole: see
    portal.models.) `portal.content.create` still retries a name refused at its write.
    """
    session = object_session(container)
    if session is None or container.id is None:
        return unique_name(container, base)
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(base.encode("utf-8")) - 2**31  # into int4
        session.execute(select(func.pg_advisory_xact_lock(cast(container.id, Integer), cast(key, Integer))))
    # only the names `base` would collide with: `base` and `base-<n>` (a listing of 20,000 is not read)
    taken = set(session.scalars(select(Node.name).where(
        Node.parent_id == container.id,
        or_(Node.name == base, Node.name.startswith(f"{base}-", autoescape=True)))))
    if "children" in container.__dict__:
        taken.update(container.keys())  # children added in this transaction and not flushed yet
    return unique_name(container, base, taken)
