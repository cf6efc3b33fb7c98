"""`request.blobs`: the blob store, joined to the request's transaction."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .blobs import BlobStore, TransactionalBlobs

_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]?B?)?\s*$", re.I)


def parse_size(value: str | int) -> int:
    if isinstance(value, int):
        return value
    match = _SIZE.match(value)
    if not match:
        raise ValueError(f"portal.max_upload_size: cannot read {value!r}; write e.g. 20MB")
    number, unit = int(match.group(1)), (match.group(2) or "").upper().rstrip("B")
    return number * {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}[unit]


def includeme(config: Any) -> None:
    settings = config.get_settings()
    root = Path(settings.get("portal.blobs_dir", "var/blobs"))
    settings["portal.max_upload_size"] = parse_size(settings.get("portal.max_upload_size", "20MB"))
    store = BlobStore(root)
    config.registry["blobstore"] = store
    config.add_request_method(lambda request: TransactionalBlobs(store, request.tm), "blobs", reify=True)
