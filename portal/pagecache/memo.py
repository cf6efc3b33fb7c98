"""Values computed once per version of what they count: a listing's total, a catalogue's facets.

Paging through a column of 10,000 items, or many visitors filtering the 信息公开目录 the same way,
would count the same rows on every page. A value is kept per process under its key, the versions
of its tags (bumped by every change below: portal.pagecache.tags) and the minute (what becomes
public or expires with time has no event). A request inside a caller's transaction (a script, a
test) always computes: its changes bump no version until they commit.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Hashable, TypeVar

from .tags import read_versions

T = TypeVar("T")
MEMO = "portal.pagecache.memo"
SIZE = 1024


def versioned(request: Any, tags: tuple[str, ...], key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, or what it gave for `key` while `tags` had the versions they have now."""
    if "app.dbsession" in request.environ:
        return compute()
    versions, _last = read_versions(request.dbsession, tags)
    full_key = (key, tags, versions, int(time.time() // 60))
    memo = request.registry.get(MEMO)
    if memo is None:
        memo = request.registry[MEMO] = (OrderedDict(), threading.Lock())
    entries, lock = memo
    with lock:
        found = entries.get(full_key)
    if found is None:
        found = compute()
        with lock:
            entries[full_key] = found
            while len(entries) > SIZE:
                entries.popitem(last=False)
    return found
