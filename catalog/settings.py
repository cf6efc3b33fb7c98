"""The catalogue's `catalog.*` settings, parsed once at start-up (see portal/settings.py for why).

Code reads `catalog_settings(registry)`; development.ini and production.ini document every key.
The API token is never logged or shown: the dataclass's repr hides it, and errors name the key.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from typing import Any, Mapping
from urllib.parse import urlsplit

from portal.settings import SettingsError, read_bool, read_int, reject_unknown

KEY = "catalog.settings"
TOKEN_ENV = "PORTAL_CKAN_API_TOKEN"
ORG_PREFIX = r"[a-z0-9_-]{0,40}"


@dataclass(frozen=True)
class CatalogSettings:
    """The parsed `catalog.*` settings; frozen, so no module can rewrite one for another to read."""

    # the CKAN to republish datasets to; empty: republishing is off and nothing is queued
    ckan_url: str = ""
    ckan_api_token: str = field(default="", repr=False)
    # prepended to the organisation names (one organisation per unit, named after its URL name)
    ckan_org_prefix: str = ""
    # the portal's public address, which CKAN's packages link back to (needed when ckan_url is set)
    portal_url: str = ""
    # send after each commit in the web process (development); production runs `ckan-worker`
    send_after_commit: bool = True
    # seconds one CKAN call may take before it counts as unreachable
    ckan_timeout: int = 30
    # while CKAN is unreachable: wait 2, 4, 8 ... seconds between tries, at most this many
    retry_max_delay: int = 600
    # seconds between two regenerations of 政府信息公开目录.csv (0: after every change)
    disclosure_export_delay: int = 300

    @property
    def republishing(self) -> bool:
        return bool(self.ckan_url)

    @classmethod
    def parse(cls, settings: Mapping[str, Any]) -> CatalogSettings:
        """Read and check every key; the first bad one raises `portal.settings.SettingsError`."""
        reject_unknown(settings, "catalog.", {"catalog." + f.name for f in fields(cls)})
        ckan_url = str(settings.get("catalog.ckan_url", "") or "").strip().rstrip("/")
        portal_url = str(settings.get("catalog.portal_url", "") or "").strip().rstrip("/")
        for key, value in (("catalog.ckan_url", ckan_url), ("catalog.portal_url", portal_url)):
            parts = urlsplit(value)
            if value and (parts.scheme not in ("http", "https") or not parts.netloc):
                raise SettingsError(key, value, "an http:// or https:// address, e.g. https://data.example.gov.cn")
        if ckan_url and not portal_url:
            raise SettingsError("catalog.portal_url", "", "the portal's public address (e.g. https://www.huangmei.gov.cn), "
                                "which the CKAN packages link back to; needed when catalog.ckan_url is set")
        token = os.environ.get(TOKEN_ENV) or str(settings.get("catalog.ckan_api_token", "") or "").strip()
        if ckan_url and not token:
            raise SettingsError("catalog.ckan_api_token", "", f"a CKAN API token of a sysadmin (or set {TOKEN_ENV}); "
                                "CKAN's user page makes one under API Tokens", shown="<empty>")
        prefix = str(settings.get("catalog.ckan_org_prefix", "") or "").strip()
        if not re.fullmatch(ORG_PREFIX, prefix):
            raise SettingsError("catalog.ckan_org_prefix", prefix, "lower-case letters, digits, - and _ "
                                "(CKAN's organisation names), at most 40")
        return cls(
            ckan_url=ckan_url, ckan_api_token=token, ckan_org_prefix=prefix, portal_url=portal_url,
            send_after_commit=read_bool(settings, "catalog.send_after_commit", cls.send_after_commit),
            ckan_timeout=read_int(settings, "catalog.ckan_timeout", cls.ckan_timeout),
            retry_max_delay=read_int(settings, "catalog.retry_max_delay", cls.retry_max_delay),
            disclosure_export_delay=read_int(settings, "catalog.disclosure_export_delay",
                                             cls.disclosure_export_delay, minimum=0),
        )


def catalog_settings(registry: Any) -> CatalogSettings:
    """The one way code reads a `catalog.*` setting."""
    return registry[KEY]


def includeme(config: Any) -> None:
    config.registry[KEY] = CatalogSettings.parse(config.get_settings())
