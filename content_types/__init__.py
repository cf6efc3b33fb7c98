"""The portal's content types. Each module holds one type: model, schema, type info and views."""
from typing import Any


def includeme(config: Any) -> None:
    for module in ("folder", "page", "news", "disclosure", "file", "image", "disclosure_catalogue"):
        config.include(f"content_types.{module}")
    config.scan("content_types.views")
