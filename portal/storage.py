"""`request.blobs`: the blob store, joined to the request's transaction."""
from __future__ import annotations

from typing import Any

from .blobs import BlobStore, TransactionalBlobs
from .settings import portal_settings


def includeme(config: Any) -> None:
    store = BlobStore(portal_settings(config.registry).blobs_dir)
    config.registry["blobstore"] = store
    config.add_request_method(lambda request: TransactionalBlobs(store, request.tm), "blobs", reify=True)
