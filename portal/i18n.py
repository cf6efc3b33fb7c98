"""The portal's translation domain; every user-facing string goes through `_`."""
from typing import Any

from pyramid.i18n import TranslationStringFactory

_ = TranslationStringFactory("portal")


def includeme(config: Any) -> None:
    """Catalogs: ours, and zh_CN copies of colander's and deform's messages (portal/locale)."""
    config.add_translation_dirs("colander:locale", "deform:locale", "portal:locale")
