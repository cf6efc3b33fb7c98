"""The portal's content types. Each module holds one type: model, schema, type info and views."""
from typing import Any

from . import disclosure, file, folder, image, news, page  # noqa: F401  (importing the package defines its tables)


def includeme(config: Any) -> None:
    # columns before disclosure_catalogue: a new unit's standard columns come first in its order
    for module in ("folder", "page", "news", "disclosure", "file", "image", "columns", "disclosure_catalogue"):
        config.include(f"content_types.{module}")
