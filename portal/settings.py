"""Every `portal.*` setting, parsed once at start-up into one frozen object on the registry.

Why one place: a key read in several modules gets several defaults, and a key parsed in place by
one module (`portal.max_upload_size` used to be rewritten from "20MB" to an int in the settings
dict) has a different type depending on who reads it first. Parsing at start-up also turns a typo
(`portal.secure_cookies = ture`, `portal.max_upload_size = lots`, a misspelt key) into a start-up
error naming the key instead of a surprise at the first upload. Code reads
`portal_settings(registry)`; development.ini and production.ini document every key and its
default. The search package parses its own `search.*` keys the same way (search/settings.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from argon2 import PasswordHasher
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError

KEY = "portal.settings"

_ARGON2 = PasswordHasher()  # only to read argon2-cffi's defaults (the RFC 9106 low-memory profile)
_TRUE = frozenset({"true", "yes", "on", "y", "t", "1"})
_FALSE = frozenset({"false", "no", "off", "n", "f", "0"})
_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]?)(?:I?B)?\s*$", re.I)
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


class SettingsError(ValueError):
    """A setting the application cannot start with: names the key, the value and what would do."""

    def __init__(self, key: str, value: Any, expected: str, shown: str | None = None) -> None:
        super().__init__(f"setting {key} = {shown or repr(value)}: expected {expected}")
        self.key = key


# -- readers, shared with search/settings.py: a key that is absent takes the default -----------

def read_bool(settings: Mapping[str, Any], key: str, default: bool) -> bool:
    """Stricter than pyramid's `asbool`, which reads any unknown word (`maybe`, `ture`) as False."""
    value = settings.get(key, default)
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise SettingsError(key, value, "true or false (or yes/no, on/off, 1/0)")


def read_int(settings: Mapping[str, Any], key: str, default: int, minimum: int = 1) -> int:
    value = settings.get(key, default)
    expected = f"a whole number of at least {minimum}"
    if isinstance(value, bool):
        raise SettingsError(key, value, expected)
    try:
        number = value if isinstance(value, int) else int(str(value).strip())
    except ValueError:
        raise SettingsError(key, value, expected) from None
    if number < minimum:
        raise SettingsError(key, value, expected)
    return number


def read_size(settings: Mapping[str, Any], key: str, default: str) -> int:
    """Bytes from `20MB`, `512 KB`, `1G`, `20MiB` or a plain number of bytes (units are binary)."""
    value = settings.get(key, default)
    expected = "a size such as 20MB, 512KB or 1GB"
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise SettingsError(key, value, expected)
        size = int(match.group(1)) * _UNITS[match.group(2).upper()]
    if size <= 0:
        raise SettingsError(key, value, expected + " (more than zero)")
    return size


def read_path(settings: Mapping[str, Any], key: str, default: str) -> Path:
    """A directory; relative paths are relative to the working directory (the .ini's %(here)s avoids that)."""
    value = settings.get(key, default)
    if not str(value).strip():
        raise SettingsError(key, value, "a directory path")
    return Path(str(value).strip())


def read_choice(settings: Mapping[str, Any], key: str, default: str, choices: tuple[str, ...]) -> str:
    value = str(settings.get(key, default)).strip().lower()
    if value not in choices:
        raise SettingsError(key, settings.get(key), "one of " + ", ".join(choices))
    return value


def read_unit_paths(settings: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """URL paths of units (`/huangmeizhen /xianzhengfuban`, each normalised to end in /), or `*`."""
    words = tuple(str(settings.get(key, "")).split())
    if words == ("*",):
        return words
    if any(not w.startswith("/") or w == "/" or w == "*" for w in words):
        raise SettingsError(key, settings.get(key), "URL paths of units separated by spaces "
                            "(/huangmeizhen /xianzhengfuban), or * for every unit")
    return tuple(w if w.endswith("/") else w + "/" for w in words)


def reject_unknown(settings: Mapping[str, Any], prefix: str, known: set[str]) -> None:
    """A misspelt key would otherwise be ignored silently and its default used."""
    for key in sorted(settings):
        if key.startswith(prefix) and key not in known:
            raise SettingsError(key, settings[key], "one of the known keys: " + ", ".join(sorted(known)))


# -- the portal's settings ---------------------------------------------------------------------

@dataclass(frozen=True)
class PortalSettings:
    """The parsed `portal.*` (and `sqlalchemy.*`) settings; frozen, so no module can rewrite one."""

    session_secret: str
    sqlalchemy: Mapping[str, Any]  # every `sqlalchemy.*` key, for engine_from_config
    engine: Engine | None = None
    secure_cookies: bool = False
    blobs_dir: Path = Path("var/blobs")
    max_upload_size: int = 20 * 1024**2
    max_rich_text_size: int = 1024**2  # bytes of one rich-text field (UTF-8)
    max_text_length: int = 20_000  # characters of any other text field of an item
    max_comment_length: int = 2_000  # characters of a workflow comment
    includes: tuple[str, ...] = ("search.integration",)
    argon2_time_cost: int = _ARGON2.time_cost
    argon2_memory_cost: int = _ARGON2.memory_cost  # KiB
    argon2_parallelism: int = _ARGON2.parallelism
    # Second factor (portal.second_factor): managers and reviewers must use one when this is on;
    # editors of the units listed (URL paths, or * for every unit) must too; a browser where it
    # was passed may be remembered this many days (0: never remembered).
    require_second_factor: bool = True
    second_factor_units: tuple[str, ...] = ()
    remember_device_days: int = 7
    # The page cache (portal.pagecache): file (shared by a machine's processes), memory or off;
    # how long a listing or an item may be kept without a change (what becomes public or expires
    # with time has no event), also the max-age browsers and proxies are told.
    page_cache: str = "file"
    page_cache_dir: Path = Path("var/pagecache")
    page_cache_memory: int = 64 * 1024**2
    page_cache_max_age_listing: int = 60
    page_cache_max_age_item: int = 300
    # How a kept page learns that something changed: file (a stamp under page_cache_dir that every
    # commit of this machine renews; portal.pagecache.changes) or database (a query per hit: for
    # several app servers writing one database).
    page_cache_changes: str = "file"

    @classmethod
    def parse(cls, settings: Mapping[str, Any]) -> PortalSettings:
        """Read and check every key; the first bad one raises `SettingsError`."""
        reject_unknown(settings, "portal.", {"portal." + f.name for f in fields(cls)
                                             if f.name != "sqlalchemy"})
        engine = settings.get("portal.engine")
        if engine is not None and not isinstance(engine, Engine):
            raise SettingsError("portal.engine", engine, "an SQLAlchemy Engine object (passed to portal.main by "
                                "tests and scripts); an .ini file sets sqlalchemy.url instead")
        url = settings.get("sqlalchemy.url")
        if engine is None:
            try:
                make_url(str(url or ""))
            except ArgumentError:
                raise SettingsError("sqlalchemy.url", url, "a database URL such as sqlite:///var/portal.db "
                                    "or postgresql+psycopg://user@host/db") from None
        secret = str(settings.get("portal.session_secret") or "")
        if len(secret) < 32 or secret.upper().startswith("CHANGE-ME"):
            shown = f"<{len(secret)} characters>" if secret and not secret.upper().startswith("CHANGE-ME") else None
            raise SettingsError("portal.session_secret", secret, "a long random string of at least 32 characters "
                                '(python -c "import secrets; print(secrets.token_urlsafe(48))")', shown)
        parallelism = read_int(settings, "portal.argon2_parallelism", cls.argon2_parallelism)
        return cls(
            session_secret=secret,
            sqlalchemy=MappingProxyType({k: v for k, v in settings.items() if k.startswith("sqlalchemy.")}),
            engine=engine,
            secure_cookies=read_bool(settings, "portal.secure_cookies", cls.secure_cookies),
            blobs_dir=read_path(settings, "portal.blobs_dir", str(cls.blobs_dir)),
            max_upload_size=read_size(settings, "portal.max_upload_size", "20MB"),
            max_rich_text_size=read_size(settings, "portal.max_rich_text_size", "1MB"),
            max_text_length=read_int(settings, "portal.max_text_length", cls.max_text_length),
            max_comment_length=read_int(settings, "portal.max_comment_length", cls.max_comment_length),
            includes=tuple(str(settings.get("portal.includes", " ".join(cls.includes))).split()),
            argon2_time_cost=read_int(settings, "portal.argon2_time_cost", cls.argon2_time_cost),
            # argon2 needs at least 8 KiB per lane
            argon2_memory_cost=read_int(settings, "portal.argon2_memory_cost", cls.argon2_memory_cost,
                                        minimum=8 * parallelism),
            argon2_parallelism=parallelism,
            require_second_factor=read_bool(settings, "portal.require_second_factor", cls.require_second_factor),
            second_factor_units=read_unit_paths(settings, "portal.second_factor_units"),
            remember_device_days=read_int(settings, "portal.remember_device_days", cls.remember_device_days,
                                          minimum=0),
            page_cache=read_choice(settings, "portal.page_cache", cls.page_cache, ("file", "memory", "off")),
            page_cache_dir=read_path(settings, "portal.page_cache_dir", str(cls.page_cache_dir)),
            page_cache_memory=read_size(settings, "portal.page_cache_memory", "64MB"),
            page_cache_max_age_listing=read_int(settings, "portal.page_cache_max_age_listing",
                                                cls.page_cache_max_age_listing),
            page_cache_max_age_item=read_int(settings, "portal.page_cache_max_age_item", cls.page_cache_max_age_item),
            page_cache_changes=read_choice(settings, "portal.page_cache_changes", cls.page_cache_changes,
                                           ("file", "database")),
        )

    def __repr__(self) -> str:
        """Never print the session secret (start-up errors and debuggers show reprs)."""
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.name != "session_secret")
        return f"PortalSettings(session_secret=<hidden>, {shown})"

    def password_hasher(self) -> PasswordHasher:
        return PasswordHasher(time_cost=self.argon2_time_cost, memory_cost=self.argon2_memory_cost,
                              parallelism=self.argon2_parallelism)


def portal_settings(registry: Any) -> PortalSettings:
    """The one way code reads a `portal.*` setting (at start-up, in a request, in a script)."""
    return registry[KEY]


def includeme(config: Any) -> None:
    config.registry[KEY] = PortalSettings.parse(config.get_settings())
