"""The CKAN republisher's parts that need no CKAN: the `catalog.*` settings, CKAN names, the package
the portal would send and its comparison with what CKAN returns, the outbox written in the change's
own transaction, the dataset's `"ckan"` status, the backoff. (tests/ckan/test_republishing.py
talks to a real CKAN.)"""
from __future__ import annotations

import base64
import copy
import uuid
from typing import Any

import pytest
import transaction
from ckanapi.errors import ValidationError
from sqlalchemy import delete, func, select

from catalog import ckan_mapping as m
from catalog.ckan_outbox import CkanOutbox, CkanPackage, status
from catalog.ckan_sender import backoff, error_text
from catalog.settings import TOKEN_ENV, CatalogSettings, catalog_settings
from portal import content, main
from portal.api.fields import deserialize
from portal.cli import make_request
from portal.models import Node, Unit, get_tm_session
from portal.registry import type_info
from portal.security import act_as
from portal.settings import SettingsError

PORTAL_URL = "https://www.huangmei.gov.cn"
TOKEN = "ckan-token-never-shown-42"
ON = {"catalog.ckan_url": "https://data.huangmei.gov.cn/", "catalog.ckan_api_token": TOKEN,
      "catalog.portal_url": PORTAL_URL}
CSV = "乡镇,户籍人口\r\n黄梅镇,102345\r\n".encode("gbk")
FIELDS = {"title": "黄梅县各乡镇户籍人口", "description": "2024年末各乡镇户籍人口。", "theme": "人口",
          "keywords": ["人口", "户籍"], "license": "cc-by", "update_frequency": "每年",
          "temporal_start": "2024-01-01", "temporal_end": "2024-12-31", "contact_name": "县统计局综合股",
          "contact_email": "tjj@huangmei.gov.cn"}


@pytest.fixture(autouse=True)
def no_token_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)


# -- settings ----------------------------------------------------------------------------------------

def test_without_a_ckan_url_republishing_is_off_and_every_key_has_its_default() -> None:
    settings = CatalogSettings.parse({})
    assert not settings.republishing
    assert (settings.ckan_url, settings.ckan_api_token, settings.ckan_org_prefix, settings.portal_url) == ("",) * 4
    assert (settings.send_after_commit, settings.ckan_timeout, settings.retry_max_delay) == (True, 30, 600)


def test_a_ckan_url_is_read_with_its_token_and_portal_address() -> None:
    settings = CatalogSettings.parse({**ON, "catalog.ckan_org_prefix": "huangmei-", "catalog.send_after_commit": "no",
                                      "catalog.ckan_timeout": "5", "catalog.retry_max_delay": "60"})
    assert settings.republishing and settings.ckan_url == "https://data.huangmei.gov.cn"  # no trailing slash
    assert (settings.ckan_api_token, settings.ckan_org_prefix, settings.portal_url) == (TOKEN, "huangmei-", PORTAL_URL)
    assert (settings.send_after_commit, settings.ckan_timeout, settings.retry_max_delay) == (False, 5, 60)


def test_a_ckan_url_without_a_token_is_refused_naming_the_token_key() -> None:
    with pytest.raises(SettingsError) as refused:
        CatalogSettings.parse({**ON, "catalog.ckan_api_token": " "})
    assert refused.value.key == "catalog.ckan_api_token" and TOKEN_ENV in str(refused.value)


def test_the_environment_variable_overrides_the_token_of_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "token-from-the-environment")
    assert CatalogSettings.parse(ON).ckan_api_token == "token-from-the-environment"
    assert CatalogSettings.parse({**ON, "catalog.ckan_api_token": ""}).ckan_api_token == "token-from-the-environment"


def test_the_token_is_never_shown() -> None:
    settings = CatalogSettings.parse(ON)
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)
    with pytest.raises(SettingsError) as refused:
        CatalogSettings.parse({**ON, "catalog.ckan_org_prefix": "BAD"})
    assert TOKEN not in str(refused.value)


@pytest.mark.parametrize("prefix", ["Huangmei-", "黄梅-", "hm prefix", "hm.", "x" * 41])
def test_a_prefix_ckan_could_not_name_an_organisation_with_is_refused(prefix: str) -> None:
    with pytest.raises(SettingsError) as refused:
        CatalogSettings.parse({**ON, "catalog.ckan_org_prefix": prefix})
    assert refused.value.key == "catalog.ckan_org_prefix"


@pytest.mark.parametrize("key,value", [("catalog.ckan_url", "data.huangmei.gov.cn"),
                                       ("catalog.ckan_url", "ftp://data.huangmei.gov.cn"),
                                       ("catalog.portal_url", ""), ("catalog.portal_url", "www.huangmei.gov.cn"),
                                       ("catalog.send_after_commit", "maybe"), ("catalog.ckan_timeout", "0"),
                                       ("catalog.ckan_tiemout", "5")])
def test_a_bad_value_or_a_misspelt_key_is_refused_with_its_key(key: str, value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        CatalogSettings.parse({**ON, key: value})
    assert refused.value.key == key


def test_a_bad_catalog_setting_stops_the_app(app_settings: dict[str, Any], engine: Any) -> None:
    with pytest.raises(SettingsError) as refused:
        main({}, **{**app_settings, "portal.engine": engine, **ON, "catalog.ckan_org_prefix": "Bad Prefix"})
    assert refused.value.key == "catalog.ckan_org_prefix"


# -- CKAN names ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text,name", [
    ("Huangmei Zhen", "huangmei-zhen"), ("tongji_ju-2025", "tongji_ju-2025"), ("--Renkou.CSV--", "renkou-csv"),
    ("黄梅镇", ""), ("a", ""), ("_-a-_", ""), ("x" * 150, "x" * 100), ("a" * 99 + "-b", "a" * 99)])
def test_ckan_name_makes_a_name_ckan_accepts_or_none(text: str, name: str) -> None:
    assert m.ckan_name(text) == name


# -- the portal's side: datasets in the test's transaction ----------------------------------------

def make(request: Any, container: Node, type_name: str, body: dict[str, Any], name: str | None = None,
         publish: bool = True) -> Node:
    """Checked as an API POST is, created, and (by default) published."""
    node = content.create(request, container, type_name, deserialize(request, type_info(request.registry, type_name),
                                                                     body), name=name, unrestricted=True)
    if publish:
        content.transition(request, node, "submit", unrestricted=True)
        content.transition(request, node, "publish", unrestricted=True)
    return node


def upload(title: str, data: bytes = CSV, filename: str = "人口.csv") -> dict[str, Any]:
    return {"title": title, "file": {"data": base64.b64encode(data).decode(), "encoding": "base64",
                                     "filename": filename}}


def test_package_and_organisation_names_come_from_the_unit_and_the_dataset(request_as: Any, town: Unit) -> None:
    request = request_as("editor")
    dataset = make(request, town, "Dataset", FIELDS, name="renkou", publish=False)
    column = make(request, town, "Folder", {"title": "开放数据", "column_kind": "其他"}, name="kaifang", publish=False)
    in_column = make(request, column, "Dataset", FIELDS, name="hukou", publish=False)
    assert m.package_name(dataset) == f"{town.name}-renkou"
    assert m.package_name(in_column) == f"{town.name}-hukou"  # a column is no organisation
    assert m.organization_name("hm-", dataset) == m.organization_name("hm-", in_column) == f"hm-{town.name}"


def ckan_like(package: dict[str, Any], base: str = "http://127.0.0.1:5000") -> dict[str, Any]:
    """What package_show returns for a package written with `package`: CKAN's ids, dates and keys
    added, the organisation as an id and an object, lists in CKAN's own order, an upload's URL its
    download address, `.htm` as HTML (as CKAN 2.12 does)."""
    shown = copy.deepcopy(package)
    org_id = str(uuid.uuid4())
    shown.update(id=str(uuid.uuid4()), type="dataset", state="active", private=False, author=None, version=None,
                 metadata_created="2026-12-02T21:29:49.696374", metadata_modified="2026-12-02T21:29:49.796158",
                 owner_org=org_id, organization={"id": org_id, "name": package["owner_org"], "title": "黄梅镇人民政府"},
                 license_title="Creative Commons Attribution", num_tags=len(package["tags"]),
                 num_resources=len(package["resources"]), groups=[])
    shown["tags"] = [{"id": str(uuid.uuid4()), "name": t["name"], "display_name": t["name"], "state": "active",
                      "vocabulary_id": None} for t in reversed(package["tags"])]
    shown["extras"] = list(reversed(package["extras"]))
    for position, resource in enumerate(shown["resources"]):
        resource.update(id=str(uuid.uuid4()), package_id=shown["id"], position=position, state="active",
                        created="2026-12-02T21:29:49.699305", mimetype=None, hash="")
        resource["format"] = {"HTM": "HTML"}.get(resource["format"], resource["format"])
        if resource.get("url_type") == "upload":
            resource["url"] = f"{base}/dataset/{shown['id']}/resource/{resource['id']}/download/renkou.csv"
    return shown


def test_what_ckan_returns_compares_equal_to_what_the_portal_sends_and_a_change_does_not(
        request_as: Any, town: Unit) -> None:
    request = request_as("editor")
    dataset = make(request, town, "Dataset", FIELDS, name="renkou")
    make(request, dataset, "Resource", upload("人口表"))
    make(request, dataset, "Resource", {"title": "统计公报", "url": "https://tjj.huangmei.gov.cn/gb/2024.htm"})
    make(request, dataset, "Resource", upload("未发布的表"), publish=False)
    want = m.desired(dataset, PORTAL_URL, "hm-huangmeizhen", "huangmeizhen-renkou")

    package = want.package
    assert [r["name"] for r in package["resources"]] == ["人口表", "统计公报"]  # public ones, in order
    assert (package["url"], package["owner_org"]) == (PORTAL_URL + dataset.path, "hm-huangmeizhen")
    assert package["resources"][0]["url_type"] == "upload"
    assert list(want.uploads) == [package["resources"][0]["portal_uid"]]
    assert package["resources"][1]["format"] == "HTM"

    shown = ckan_like(package)
    assert m.comparable(shown) == m.comparable(package)
    for change in (lambda p: p.update(title="有人在 CKAN 里改了标题"),
                   lambda p: p["resources"].reverse(),
                   lambda p: p["resources"][0].update(portal_hash="0" * 64),  # another file uploaded
                   lambda p: p["tags"].append({"name": "手工标签"}),
                   lambda p: p.update(state="deleted"),
                   lambda p: p["organization"].update(name="hm-konglongzhen")):
        changed = copy.deepcopy(shown)
        change(changed)
        assert m.comparable(changed) != m.comparable(package)


def test_files_of_a_conditionally_open_dataset_are_not_uploaded_but_link_to_the_portal(
        request_as: Any, town: Unit) -> None:
    request = request_as("editor")
    dataset = make(request, town, "Dataset", {**FIELDS, "open_class": "有条件开放"}, name="shenqing")
    resource = make(request, dataset, "Resource", upload("登记信息"))
    want = m.desired(dataset, PORTAL_URL, "hm-huangmeizhen", "huangmeizhen-shenqing")
    assert want.uploads == {}
    assert want.package["resources"][0]["url"] == PORTAL_URL + resource.path
    assert "url_type" not in want.package["resources"][0]


# -- the outbox, written in the change's transaction ----------------------------------------------------

@pytest.fixture(scope="module")
def ckan_app(app: Any, app_settings: dict[str, Any], engine: Any) -> Any:
    """The test app's database, with republishing on (to an address nothing answers at: these tests
    never send) and no send after commit."""
    return main({}, **{**app_settings, "portal.engine": engine, **ON, "catalog.ckan_url": "http://127.0.0.1:9",
                       "catalog.send_after_commit": "false", "search.drain_on_start": "false"})


def on_request(ckan_app: Any, tm: Any, dbsession: Any, user: Any = None) -> Any:
    """A request of the republishing app in the test's transaction, acting as `user`."""
    request = make_request(ckan_app.registry, {"tm.manager": tm, "app.dbsession": dbsession})
    act_as(request, user)
    return request


def queued(dbsession: Any, node_id: int) -> int:
    return dbsession.scalar(select(func.count()).select_from(CkanOutbox).where(CkanOutbox.node_id == node_id))


def test_with_republishing_off_a_publish_queues_nothing(request_as: Any, town: Unit, dbsession: Any) -> None:
    request = request_as("editor")
    assert not catalog_settings(request.registry).republishing
    dataset = make(request, town, "Dataset", FIELDS)
    make(request, dataset, "Resource", upload("人口表"))
    dbsession.flush()
    assert queued(dbsession, dataset.id) == 0
    assert status(request, dataset)["state"] == "off"


def test_each_change_of_a_dataset_or_its_resources_queues_it(ckan_app: Any, tm: Any, dbsession: Any,
                                                            users: Any, town: Unit) -> None:
    request = on_request(ckan_app, tm, dbsession, users["editor"])
    dataset = make(request, town, "Dataset", FIELDS, publish=False)
    dbsession.flush()
    assert queued(dbsession, dataset.id) == 1  # added
    resource = make(request, dataset, "Resource", upload("人口表"), publish=False)
    dbsession.flush()
    assert queued(dbsession, dataset.id) == 2 and queued(dbsession, resource.id) == 0  # the dataset, not the resource
    content.transition(request, dataset, "submit", unrestricted=True)
    dbsession.flush()
    assert queued(dbsession, dataset.id) == 3


def test_the_outbox_row_is_written_in_the_changes_own_transaction(ckan_app: Any, app: Any, town: Unit) -> None:
    """Committed with the change or rolled back with it: a failed request sends nothing."""
    factory = app.registry["dbsession_factory"]
    with factory() as reader:
        before = reader.scalar(select(func.count()).select_from(CkanOutbox))
    tm = transaction.TransactionManager(explicit=True)
    tm.begin()
    try:
        session = get_tm_session(factory, tm)
        request = on_request(ckan_app, tm, session)
        dataset = make(request, session.get(Unit, town.id), "Dataset", FIELDS)
        session.flush()
        assert queued(session, dataset.id) >= 1
        with factory() as reader:  # not visible outside the transaction before it commits
            assert reader.scalar(select(func.count()).select_from(CkanOutbox)) == before
    finally:
        tm.abort()
    with factory() as reader:
        assert reader.scalar(select(func.count()).select_from(CkanOutbox)) == before


# -- the dataset's "ckan" status ------------------------------------------------------------------------

def test_the_status_says_pending_then_the_outcome_and_shows_ckans_words_to_editors_only(
        ckan_app: Any, tm: Any, dbsession: Any, users: Any, town: Unit) -> None:
    editor = on_request(ckan_app, tm, dbsession, users["editor"])
    anonymous = on_request(ckan_app, tm, dbsession)
    dataset = make(editor, town, "Dataset", FIELDS, name="zhuangtai")
    dbsession.flush()
    assert status(editor, dataset) == {"state": "pending", "id": None, "name": None, "url": None, "error": None,
                                       "synced_at": None}

    dbsession.execute(delete(CkanOutbox).where(CkanOutbox.node_id == dataset.id))
    assert status(editor, dataset)["state"] == "off"  # never sent, nothing waiting

    refusal = "maintainer_email: Email wang..ke@huangmei.gov.cn is not a valid format"
    dbsession.add(CkanPackage(node_id=dataset.id, name="huangmeizhen-zhuangtai", ckan_id=None, resources={},
                              sent_hash="", state="error", error=refusal))
    dbsession.flush()
    assert status(editor, dataset) | {"synced_at": None} == {"state": "error", "id": None, "url": None, "error": refusal,
                                                             "name": "huangmeizhen-zhuangtai", "synced_at": None}
    assert status(anonymous, dataset)["state"] == "error" and status(anonymous, dataset)["error"] is None

    record = dbsession.get(CkanPackage, dataset.id)
    record.state, record.error, record.ckan_id = "synced", "", "6f1c2d3e-0000-4000-8000-000000000001"
    dbsession.flush()
    shown = status(anonymous, dataset)
    assert (shown["state"], shown["url"]) == ("synced", "http://127.0.0.1:9/dataset/huangmeizhen-zhuangtai")


# -- failures ---------------------------------------------------------------------------------------

def test_the_backoff_doubles_and_stops_at_the_cap() -> None:
    waits = [backoff(attempts, 600).total_seconds() for attempts in range(0, 13)]
    assert waits == [2, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600, 600]
    assert max(backoff(n, 5).total_seconds() for n in range(1, 100)) == 5


def test_ckans_refusal_becomes_one_line_naming_the_fields() -> None:
    refusal = ValidationError({"__type": "Validation Error",
                               "maintainer_email": ["Email a..b@c.cn is not a valid format"],
                               "tags": ['Tag "x" length is less than minimum 2', "Tag too short"]})
    assert error_text(refusal) == ('maintainer_email: Email a..b@c.cn is not a valid format | '
                                   'tags: Tag "x" length is less than minimum 2; Tag too short')
