"""Settings are parsed once at start-up (portal/settings.py, search/settings.py): each key's default,
each bad value stopping `portal.main` with the key's name, the frozen result on the registry, the
argon2 parameters reaching the hasher; and the request helpers `act_as` and `request.principals`."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from pyramid.authorization import Authenticated, Everyone
from pyramid.interfaces import ISecurityPolicy
from pyramid.paster import get_appsettings
from pyramid.threadlocal import manager

from portal import main
from portal.models import LocalRole
from portal.security import act_as, authenticate, forget_local_roles, hash_password, password_hasher
from portal.settings import PortalSettings, SettingsError, portal_settings
from search.settings import SearchSettings, search_settings
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s" * 40
ARGON2_DEFAULTS = PasswordHasher()


# -- defaults and values -----------------------------------------------------------------------

def test_every_portal_key_has_its_default() -> None:
    settings = PortalSettings.parse({"sqlalchemy.url": "sqlite://", "portal.session_secret": SECRET})
    assert settings.session_secret == SECRET
    assert dict(settings.sqlalchemy) == {"sqlalchemy.url": "sqlite://"}
    assert settings.engine is None
    assert settings.secure_cookies is False
    assert settings.blobs_dir == Path("var/blobs")
    assert settings.max_upload_size == 20 * 1024 * 1024
    assert settings.includes == ("search.integration",)
    assert (settings.argon2_time_cost, settings.argon2_memory_cost, settings.argon2_parallelism) == \
        (ARGON2_DEFAULTS.time_cost, ARGON2_DEFAULTS.memory_cost, ARGON2_DEFAULTS.parallelism)


def test_every_search_key_has_its_default() -> None:
    assert SearchSettings.parse({}) == SearchSettings(index_dir=Path("var/index"), drain_after_commit=True,
                                                      drain_on_start=True, reindex_procs=2)


def test_every_key_is_read() -> None:
    settings = PortalSettings.parse({
        "sqlalchemy.url": "postgresql+psycopg://portal@db/portal", "sqlalchemy.pool_size": "7",
        "portal.session_secret": SECRET, "portal.secure_cookies": "yes", "portal.blobs_dir": "/srv/blobs",
        "portal.max_upload_size": "512 KB", "portal.includes": "tests.example_type\n search.integration",
        "portal.argon2_time_cost": "2", "portal.argon2_memory_cost": "2048", "portal.argon2_parallelism": "2"})
    assert settings.sqlalchemy["sqlalchemy.pool_size"] == "7"
    assert settings.secure_cookies is True
    assert settings.blobs_dir == Path("/srv/blobs")
    assert settings.max_upload_size == 512 * 1024
    assert settings.includes == ("tests.example_type", "search.integration")
    assert (settings.argon2_time_cost, settings.argon2_memory_cost, settings.argon2_parallelism) == (2, 2048, 2)
    assert PortalSettings.parse({"sqlalchemy.url": "sqlite://", "portal.session_secret": SECRET,
                                 "portal.includes": ""}).includes == ()
    search = SearchSettings.parse({"search.index_dir": "/srv/index", "search.drain_after_commit": "off",
                                   "search.drain_on_start": "0", "search.reindex_procs": "4"})
    assert search == SearchSettings(index_dir=Path("/srv/index"), drain_after_commit=False,
                                    drain_on_start=False, reindex_procs=4)


@pytest.mark.parametrize("value, size", [("20MB", 20 * 1024**2), ("20M", 20 * 1024**2), ("20MiB", 20 * 1024**2),
                                         ("1gb", 1024**3), ("4096", 4096), (4096, 4096)])
def test_upload_sizes(value: Any, size: int) -> None:
    assert PortalSettings.parse({"sqlalchemy.url": "sqlite://", "portal.session_secret": SECRET,
                                 "portal.max_upload_size": value}).max_upload_size == size


def test_the_ini_files_are_the_reference() -> None:
    """development.ini starts; production.ini refuses its placeholder secret until it is replaced."""
    dev = get_appsettings(str(ROOT / "development.ini"))
    assert PortalSettings.parse(dev).max_upload_size == 20 * 1024**2
    assert SearchSettings.parse(dev).drain_after_commit is True
    prod = get_appsettings(str(ROOT / "production.ini"))
    assert SearchSettings.parse(prod).drain_after_commit is False
    with pytest.raises(SettingsError, match="portal.session_secret"):
        PortalSettings.parse(prod)
    assert PortalSettings.parse({**prod, "portal.session_secret": SECRET}).secure_cookies is True


def test_the_app_keeps_the_parsed_settings_and_leaves_the_raw_ones_alone(app: Any, app_settings: Any) -> None:
    assert portal_settings(app.registry).max_upload_size == 2 * 1024 * 1024
    assert portal_settings(app.registry).engine is not None
    assert search_settings(app.registry).index_dir == Path(app_settings["search.index_dir"])
    assert app.registry.settings["portal.max_upload_size"] == "2MB"  # no longer rewritten in place
    assert app.registry.settings["tm.manager_hook"] is not None


def test_the_parsed_settings_are_frozen(app: Any) -> None:
    settings = portal_settings(app.registry)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.max_upload_size = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.sqlalchemy["sqlalchemy.url"] = "sqlite://"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        search_settings(app.registry).drain_after_commit = False  # type: ignore[misc]


def test_the_secret_is_never_shown() -> None:
    settings = PortalSettings.parse({"sqlalchemy.url": "sqlite://", "portal.session_secret": SECRET})
    assert SECRET not in repr(settings)
    with pytest.raises(SettingsError) as raised:
        PortalSettings.parse({"sqlalchemy.url": "sqlite://", "portal.session_secret": "short-but-real"})
    assert "short-but-real" not in str(raised.value) and "<14 characters>" in str(raised.value)


# -- bad values stop the start-up --------------------------------------------------------------

BAD = [
    ("search.drain_after_commit", "maybe"),
    ("search.drain_on_start", "sometimes"),
    ("search.reindex_procs", "0"),
    ("search.reindex_procs", "two"),
    ("search.index_directory", "/tmp/index"),  # misspelt
    ("portal.max_upload_size", "lots"),
    ("portal.max_upload_size", "0MB"),
    ("portal.max_uplaod_size", "20MB"),  # misspelt
    ("portal.secure_cookies", "ture"),
    ("portal.session_secret", "CHANGE-ME: a long random string"),
    ("portal.session_secret", ""),
    ("portal.session_secret", "too-short"),
    ("portal.argon2_time_cost", "0"),
    ("portal.argon2_parallelism", "-1"),
    ("portal.argon2_memory_cost", "4"),  # argon2 needs 8 KiB per lane
    ("portal.engine", "sqlite://"),
    ("tm.manager_hook", "pyramid_tm.default_manager"),
]


@pytest.mark.parametrize("key, value", BAD)
def test_a_bad_value_stops_the_start(app_settings: Any, engine: Any, key: str, value: str) -> None:
    settings = {**app_settings, "portal.engine": engine, key: value}
    with pytest.raises(SettingsError) as raised:
        main({}, **settings)
    message = str(raised.value)
    assert f"setting {key} = " in message and "expected" in message
    assert raised.value.key == key
    if key != "portal.session_secret" or value.startswith("CHANGE-ME"):
        assert repr(value) in message


def test_a_missing_secret_stops_the_start(app_settings: Any, engine: Any) -> None:
    settings = {k: v for k, v in app_settings.items() if k != "portal.session_secret"}
    with pytest.raises(SettingsError, match="portal.session_secret"):
        main({}, **settings, **{"portal.engine": engine})


def test_a_bad_database_url_stops_the_start(app_settings: Any) -> None:
    with pytest.raises(SettingsError, match="sqlalchemy.url = 'nonsense'"):
        main({}, **{**app_settings, "sqlalchemy.url": "nonsense"})


# -- argon2 parameters -------------------------------------------------------------------------

def test_argon2_parameters_reach_the_hasher(app_settings: Any, engine: Any, tmp_path: Path) -> None:
    app = main({}, **{**app_settings, "portal.engine": engine, "portal.includes": "",
                      "portal.argon2_time_cost": "2", "portal.argon2_memory_cost": "2048",
                      "portal.argon2_parallelism": "2"})
    encoded = hash_password(PASSWORD, password_hasher(app.registry))
    assert encoded.startswith("$argon2id$v=19$m=2048,t=2,p=2$")


def test_the_test_apps_hasher_is_the_cheap_one_of_its_settings(app: Any) -> None:
    assert password_hasher(app.registry).hash(PASSWORD).startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    manager.push({"registry": app.registry, "request": None})  # as in a script (`script_request`)
    try:
        assert hash_password(PASSWORD).startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    finally:
        manager.pop()


def test_a_login_rehashes_a_password_hashed_with_other_parameters(request_as: Any, users: Any) -> None:
    editor = users["editor"]
    editor.password_hash = PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1).hash(PASSWORD)
    request = request_as("editor")
    user, why = authenticate(request, "editor", PASSWORD)
    assert user is editor and why is None
    assert editor.password_hash.startswith("$argon2id$v=19$m=1024,t=1,p=1$")


# -- act_as and request.principals -------------------------------------------------------------

def test_act_as_switches_users_on_one_request(request_as: Any, users: Any, town: Any) -> None:
    request = request_as("editor")
    assert request.has_permission("add", town)
    act_as(request, users["other_editor"])
    assert not request.has_permission("add", town)  # not the editor's local roles, cached on this request
    act_as(request, users["editor"])
    assert request.has_permission("add", town)
    act_as(request, None)
    assert not request.has_permission("add", town)
    act_as(request, users["manager"])
    assert request.has_permission("manage", town)


def test_setting_the_identity_directly_does_not_keep_the_old_local_roles(request_as: Any, users: Any,
                                                                         town: Any) -> None:
    """What `portal.cli.act_as` did (and test helpers still do): the local roles follow the identity."""
    request = request_as("editor")
    assert request.has_permission("add", town)
    request.registry.getUtility(ISecurityPolicy).identity_cache.set(request, users["other_editor"])
    assert not request.has_permission("add", town)


def test_forget_local_roles_after_granting_one(request_as: Any, users: Any, town: Any, dbsession: Any) -> None:
    request = request_as("other_editor")
    assert not request.has_permission("add", town)
    dbsession.add(LocalRole(node_id=town.id, principal="user:other-editor", role="Contributor"))
    dbsession.flush()
    forget_local_roles(request)
    assert request.has_permission("add", town)


def test_request_principals_are_the_policys(request_as: Any, users: Any, town: Any) -> None:
    request = request_as("manager")
    policy = request.registry.getUtility(ISecurityPolicy)
    assert request.principals == policy.base_principals(request)
    assert {Everyone, Authenticated, "user:manager", "group:managers", "role:Manager"} <= set(request.principals)
    assert policy.principals_for(request, town)[:len(request.principals)] == request.principals
    act_as(request, users["editor"])
    assert "user:editor" in request.principals and "user:manager" not in request.principals
    act_as(request, None)
    assert request.principals == [Everyone]
