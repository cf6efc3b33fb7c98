"""Republishing datasets to a real CKAN (catalog.ckan_sender), judged from CKAN's side with ckanapi.

Each portal here is an app of its own: its own SQLite database, blob store and search index, set up
as `portal init` does, pointed at the session's CKAN (tests/ckan/conftest.py) with an organisation
prefix of its own, so that portals sharing the CKAN never see each other's organisations. Content
changes go through portal.content in committed transactions, as a request or a script makes them;
the tests then drain the outbox themselves (`catalog.send_after_commit = false`), except where
they show the development flow (sent right after the commit) and a CKAN that cannot be reached.

Every app publishes the disclosure catalogue dataset when it is set up (catalog.disclosure_export);
`make_portal` drains once so that each test starts from an empty outbox, and the tests look at
their own datasets only.
"""
from __future__ import annotations

import base64
import contextlib
import datetime as dt
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import webtest
from ckanapi import RemoteCKAN
from ckanapi.errors import NotFound
from sqlalchemy import select

from catalog.ckan_outbox import CkanOutbox, CkanPackage
from catalog.dataset import Dataset
from catalog.ckan_sender import Report, Sender, retry_failed
from portal import content, main
from portal.accounts import add_user
from portal.api.fields import deserialize
from portal.cli import app_request
from portal.migrate import upgrade
from portal.models import Node, Unit, User, get_engine
from portal.models.node import utcnow
from portal.registry import info_for, type_info
from portal.schemas import to_local
from portal.security import act_as
from portal.units import set_up_site
from tests.ckan.conftest import Ckan
from tests.conftest import PASSWORD, api_token, test_settings
from tests.services import free_port

ROOT = Path(__file__).resolve().parents[2]
PORTAL_URL = "https://www.huangmei.gov.cn"
TOWN, OTHER_TOWN = "黄梅镇", "孔垄镇"
JSON = {"Accept": "application/json"}
# GBK on purpose: CKAN must hand back exactly the bytes the portal holds, not re-encoded text
CSV = "乡镇,户籍人口\r\n黄梅镇,102345\r\n孔垄镇,61234\r\n".encode("gbk")
CSV_2025 = "乡镇,户籍人口\r\n黄梅镇,103001\r\n孔垄镇,60877\r\n".encode("gbk")
LINK = "https://data.stats.gov.cn/easyquery.htm?cn=E0103"
FIELDS = {
    "description": "2024年末各乡镇户籍人口。", "theme": "人口", "keywords": ["人口", "户籍"], "license": "cc-by",
    "open_class": "无条件开放", "update_frequency": "每年", "temporal_start": "2024-01-01",
    "temporal_end": "2024-12-31", "spatial": "黄梅县", "contact_name": "县统计局综合股",
    "contact_phone": "0713-3321234", "contact_email": "tjj@huangmei.gov.cn",
}


def file_resource(title: str, data: bytes = CSV, filename: str = "人口.csv") -> dict[str, Any]:
    return {"title": title, "file": {"data": base64.b64encode(data).decode("ascii"), "encoding": "base64",
                                     "filename": filename}}


def link_resource(title: str, url: str = LINK) -> dict[str, Any]:
    return {"title": title, "url": url}


@dataclass
class Made:
    id: int
    path: str
    resources: list[int] = field(default_factory=list)


@dataclass
class Portal:
    """One portal app republishing to CKAN, and what the tests do with it."""

    app: Any
    prefix: str
    settings: dict[str, Any]

    @property
    def registry(self) -> Any:
        return self.app.registry

    def org(self, unit: str = TOWN) -> str:
        """The CKAN organisation of a unit: the prefix and the unit's URL name."""
        with self.session() as session:
            return self.prefix + session.scalar(select(Unit.name).where(Unit.title == unit))

    @contextlib.contextmanager
    def request(self, who: str | None = "reviewer") -> Iterator[Any]:
        """A committed transaction acting as `who` (the county reviewer saves directly; an editor's
        change of a published item waits as a draft)."""
        with app_request(self.registry) as request:
            if who is not None:
                act_as(request, request.dbsession.scalar(select(User).where(User.login == who)))
            yield request

    def session(self) -> Any:
        return self.registry["dbsession_factory"]()

    def add_dataset(self, name: str, *resources: dict[str, Any], unit: str = TOWN, state: str = "published",
                    **fields: Any) -> Made:
        """A dataset named `name` with its resources, checked as an API POST is, then private,
        submitted (`pending`) or published."""
        with self.request() as request:
            parent = request.dbsession.scalar(select(Unit).where(Unit.title == unit))
            body = {"title": f"黄梅县各乡镇户籍人口（{name}）", **FIELDS, **fields}
            dataset = content.create(request, parent, "Dataset",
                                     deserialize(request, type_info(request.registry, "Dataset"), body),
                                     name=name, unrestricted=True)
            nodes = [dataset] + [content.create(request, dataset, "Resource",
                                                deserialize(request, type_info(request.registry, "Resource"), r),
                                                unrestricted=True) for r in resources]
            for node in nodes:
                if state != "private":
                    content.transition(request, node, "submit", unrestricted=True)
                if state == "published":
                    content.transition(request, node, "publish", unrestricted=True)
            return Made(dataset.id, dataset.path, [n.id for n in nodes[1:]])

    def add_resource(self, dataset_id: int, body: dict[str, Any]) -> int:
        with self.request() as request:
            dataset = request.dbsession.get(Node, dataset_id)
            data = deserialize(request, type_info(request.registry, "Resource"), body)
            node = content.create(request, dataset, "Resource", data, unrestricted=True)
            content.transition(request, node, "submit", unrestricted=True)
            content.transition(request, node, "publish", unrestricted=True)
            return node.id

    def edit(self, node_id: int, body: dict[str, Any], who: str = "reviewer") -> str:
        """A partial save, as an API PATCH: 'saved', or 'draft' for an editor's change of a published item."""
        with self.request(who) as request:
            node = request.dbsession.get(Node, node_id)
            data = deserialize(request, info_for(request.registry, node), body, node)
            return content.save(request, node, data, unrestricted=True)

    def transition(self, node_id: int, name: str, comment: str = "") -> None:
        with self.request() as request:
            content.transition(request, request.dbsession.get(Node, node_id), name, comment, unrestricted=True)

    def drain(self, api: Any = None, **kwargs: Any) -> Report:
        return Sender(self.registry, api=api).drain(**kwargs)

    def record(self, node_id: int) -> CkanPackage | None:
        with self.session() as session:
            return session.get(CkanPackage, node_id)

    def rows(self, *node_ids: int) -> list[CkanOutbox]:
        with self.session() as session:
            return list(session.scalars(select(CkanOutbox).where(CkanOutbox.node_id.in_(node_ids))))

    def json(self, path: str, who: str | None = None) -> dict[str, Any]:
        """The item's JSON through the web API, as `who` (None: anonymous) sees it."""
        testapp = webtest.TestApp(self.app)
        headers = {**JSON, **api_token(testapp, who)} if who else JSON
        return testapp.get(path, headers=headers).json

    def write_ini(self, path: Path, **overrides: str) -> Path:
        """An .ini file of this portal, for the `portal` command in another process."""
        settings = {**self.settings, **overrides}
        lines = ["[app:main]", "use = egg:huangmei-portal", *(f"{k} = {v}" for k, v in settings.items())]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path


def portal_settings(base: Path, ckan_url: str, token: str, prefix: str, **more: str) -> dict[str, Any]:
    return test_settings(
        f"sqlite:///{base / 'portal.db'}", base / "blobs", base / "index", **{
            "catalog.ckan_url": ckan_url, "catalog.ckan_api_token": token, "catalog.ckan_org_prefix": prefix,
            "catalog.portal_url": PORTAL_URL, "catalog.send_after_commit": "false",
            "portal.require_second_factor": "false", "search.drain_on_start": "false", **more})


def open_portal(settings: dict[str, Any]) -> Portal:
    """An app on a database made already (another process's view of the same portal)."""
    return Portal(main({}, **settings), settings["catalog.ckan_org_prefix"], settings)


def make_portal(base: Path, ckan_url: str, token: str, prefix: str, **more: str) -> Portal:
    """A new portal: migrated database, units, an editor of 黄梅镇 and the county reviewer."""
    settings = portal_settings(base, ckan_url, token, prefix, **more)
    engine = get_engine(settings)
    upgrade(engine)
    engine.dispose()
    portal = open_portal(settings)
    with app_request(portal.registry) as request:
        set_up_site(request)
        add_user(request.dbsession, "editor", PASSWORD, [], [TOWN], request=request)
        add_user(request.dbsession, "reviewer", PASSWORD, ["reviewers"], [], request=request)
    portal.drain(due_only=False)
    return portal


@pytest.fixture(scope="module")
def portal(ckan: Ckan, tmp_path_factory: Any) -> Portal:
    return make_portal(tmp_path_factory.mktemp("republish"), ckan.url, ckan.api_token, "rp-")


def show(ckan: Ckan, name_or_id: str) -> dict[str, Any]:
    return ckan.api.action.package_show(id=name_or_id)


def absent(ckan: Ckan, name: str) -> bool:
    try:
        ckan.api.action.package_show(id=name)
    except NotFound:
        return True
    return False


def download(url: str) -> bytes:
    response = requests.get(url, timeout=30)
    assert response.status_code == 200, url
    return response.content


class LosesAnswers:
    """A CKAN client whose first answer to each of `actions` is lost on the way back: CKAN did the
    work, the sender sees a dropped connection."""

    def __init__(self, api: Any, *actions: str) -> None:
        self.api, self.to_lose, self.lost = api, set(actions), []

    def call_action(self, action: str, data_dict: Any = None, **kwargs: Any) -> Any:
        result = self.api.call_action(action, data_dict, **kwargs)
        if action in self.to_lose:
            self.to_lose.discard(action)
            self.lost.append(action)
            raise requests.ConnectionError(f"connection reset while reading the answer to {action}")
        return result


class KillsCkan:
    """A CKAN client that kills CKAN (SIGKILL, as a crash) just before its call number `before`."""

    def __init__(self, api: Any, server: Any, before: int) -> None:
        self.api, self.server, self.before, self.calls = api, server, before, 0

    def call_action(self, action: str, data_dict: Any = None, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == self.before:
            self.server.stop_ckan(kill=True)
        return self.api.call_action(action, data_dict, **kwargs)


def real_api(ckan: Ckan) -> RemoteCKAN:
    return RemoteCKAN(ckan.url, apikey=ckan.api_token, user_agent="huangmei-portal-tests")


# -- 1. a published dataset arrives whole ----------------------------------------------------------

def test_a_published_dataset_arrives_with_its_metadata_organisation_and_files(portal: Portal, ckan: Ckan) -> None:
    made = portal.add_dataset("renkou", file_resource("各乡镇户籍人口表"), link_resource("国家统计局数据库"))
    report = portal.drain()
    assert (report.created, report.failed, report.unreachable) == (1, 0, "")

    record = portal.record(made.id)
    assert (record.state, record.name, record.error) == ("synced", "huangmeizhen-renkou", "")
    package = show(ckan, record.name)
    assert package["id"] == record.ckan_id and package["state"] == "active"
    assert package["title"] == "黄梅县各乡镇户籍人口（renkou）"
    assert package["notes"] == FIELDS["description"]
    assert sorted(t["name"] for t in package["tags"]) == ["人口", "户籍"]
    assert package["license_id"] == "cc-by"
    assert package["url"] == PORTAL_URL + "/huangmeizhen/renkou/"
    assert (package["maintainer"], package["maintainer_email"]) == ("县统计局综合股", "tjj@huangmei.gov.cn")
    with portal.session() as session:
        town = session.scalar(select(Unit).where(Unit.title == TOWN))
        published = session.get(Node, made.id).published
        portal_file = session.get(Node, made.resources[0]).file
        resource_path = session.get(Node, made.resources[0]).path
    assert package["organization"]["name"] == "rp-huangmeizhen" == portal.org()
    assert package["organization"]["title"] == town.title
    assert {e["key"]: e["value"] for e in package["extras"]} == {
        "theme": "人口", "open_class": "无条件开放", "update_frequency": "每年", "temporal_start": "2024-01-01",
        "temporal_end": "2024-12-31", "spatial_text": "黄梅县", "contact_name": "县统计局综合股",
        "contact_phone": "0713-3321234", "contact_email": "tjj@huangmei.gov.cn",
        "issued": to_local(published).date().isoformat(), "portal_uid": str(made.id)}

    # the portal's order, the file uploaded (CKAN serves the portal's bytes), the link as given
    upload, link = package["resources"]
    assert [upload["name"], link["name"]] == ["各乡镇户籍人口表", "国家统计局数据库"]
    assert (upload["url_type"], upload["format"], upload["size"]) == ("upload", "CSV", len(CSV))
    assert upload["portal_hash"] == portal_file["hash"]
    portal_bytes = webtest.TestApp(portal.app).get(resource_path + "@@download/file").body
    assert download(upload["url"]) == portal_bytes == CSV
    assert (link["url"], link.get("url_type")) == (LINK, None)

    # the dataset's JSON says where it stands; the error text is for its editors only
    expected = {"state": "synced", "id": record.ckan_id, "name": "huangmeizhen-renkou",
                "url": f"{ckan.url}/dataset/huangmeizhen-renkou", "error": None}
    anonymous = portal.json(made.path)["ckan"]
    editor = portal.json(made.path, "editor")["ckan"]
    for seen in (anonymous, editor):
        assert {k: seen[k] for k in expected} == expected
        assert dt.datetime.fromisoformat(seen["synced_at"]) <= dt.datetime.now(dt.timezone.utc)


# -- 2. drafts, pending items and pending changes never leave ---------------------------------------

def test_private_and_pending_datasets_and_pending_changes_never_reach_ckan(portal: Portal, ckan: Ckan) -> None:
    private = portal.add_dataset("caogao", file_resource("草稿表"), state="private")
    pending = portal.add_dataset("daishen", file_resource("待审表"), state="pending")
    assert portal.rows(private.id, pending.id)  # their changes were queued, as every dataset change is
    report = portal.drain()
    assert report.write_calls == 0 and not portal.rows(private.id, pending.id)
    for made, name in ((private, "caogao"), (pending, "daishen")):
        assert absent(ckan, f"huangmeizhen-{name}")
        assert portal.record(made.id) is None
        assert portal.json(made.path, "reviewer")["ckan"]["state"] == "off"

    published = portal.add_dataset("gengzheng", file_resource("更正表"))
    portal.drain()
    before = show(ckan, "huangmeizhen-gengzheng")
    # an editor's change of a published dataset waits for review as a draft: CKAN keeps the public text
    assert portal.edit(published.id, {"title": "更正后的标题", "keywords": ["人口", "更正"]}, who="editor") == "draft"
    report = portal.drain()
    assert report.write_calls == 0
    assert show(ckan, "huangmeizhen-gengzheng")["title"] == before["title"] == "黄梅县各乡镇户籍人口（gengzheng）"
    assert portal.json(published.path, "editor")["ckan"]["state"] == "synced"

    portal.transition(published.id, "publish", "同意")  # the reviewer approves the change
    report = portal.drain()
    assert (report.updated, report.created) == (1, 0)
    after = show(ckan, "huangmeizhen-gengzheng")
    assert after["id"] == before["id"] and after["title"] == "更正后的标题"
    assert sorted(t["name"] for t in after["tags"]) == ["人口", "更正"]


# -- 3. updates change the one package --------------------------------------------------------------

def test_edits_update_the_same_package_and_its_resources_never_duplicate(portal: Portal, ckan: Ckan) -> None:
    made = portal.add_dataset("bianhua", file_resource("人口表"))
    portal.drain()
    first = show(ckan, "huangmeizhen-bianhua")
    (csv_resource,) = first["resources"]

    portal.edit(made.id, {"title": "黄梅县户籍人口（修订）"})
    assert portal.drain().updated == 1
    package = show(ckan, "huangmeizhen-bianhua")
    assert package["id"] == first["id"] and package["title"] == "黄梅县户籍人口（修订）"
    assert [r["id"] for r in package["resources"]] == [csv_resource["id"]]
    assert download(package["resources"][0]["url"]) == CSV  # the upload survives a package update

    link_id = portal.add_resource(made.id, link_resource("国家统计局数据库"))
    portal.drain()
    package = show(ckan, "huangmeizhen-bianhua")
    assert [r["name"] for r in package["resources"]] == ["人口表", "国家统计局数据库"]
    assert package["resources"][0]["id"] == csv_resource["id"]

    portal.edit(made.resources[0], file_resource("人口表", CSV_2025, "人口2025.csv"))
    report = portal.drain()
    assert report.calls["resource_create"] == 0 and report.calls["resource_update"] == 1
    package = show(ckan, "huangmeizhen-bianhua")
    assert [r["name"] for r in package["resources"]] == ["人口表", "国家统计局数据库"]
    assert package["resources"][0]["id"] == csv_resource["id"]
    assert download(package["resources"][0]["url"]) == CSV_2025

    with portal.request() as request:
        content.delete(request, request.dbsession.get(Node, link_id), unrestricted=True)
    portal.drain()
    package = show(ckan, "huangmeizhen-bianhua")
    assert [r["id"] for r in package["resources"]] == [csv_resource["id"]]
    assert package["id"] == first["id"]


def test_a_lost_answer_to_an_upload_leaves_no_duplicate_resource(portal: Portal, ckan: Ckan) -> None:
    made = portal.add_dataset("diushi", link_resource("国家统计局数据库"))
    portal.drain()
    portal.add_resource(made.id, file_resource("人口表"))
    losing = LosesAnswers(real_api(ckan), "resource_create")
    report = portal.drain(api=losing)
    assert losing.lost == ["resource_create"] and report.unreachable
    assert len(show(ckan, "huangmeizhen-diushi")["resources"]) == 2  # CKAN made it; the portal does not know
    assert portal.drain(due_only=False).updated == 1
    package = show(ckan, "huangmeizhen-diushi")
    assert [r["name"] for r in package["resources"]] == ["国家统计局数据库", "人口表"]
    assert download(package["resources"][1]["url"]) == CSV


# -- 4. the CKAN name is made once ------------------------------------------------------------------

def test_renaming_or_moving_a_dataset_keeps_its_ckan_name(portal: Portal, ckan: Ckan) -> None:
    made = portal.add_dataset("yuanming", file_resource("人口表"))
    portal.drain()
    first = show(ckan, "huangmeizhen-yuanming")

    with portal.request() as request:
        content.rename(request, request.dbsession.get(Node, made.id), "xinming", unrestricted=True)
    portal.drain()
    package = show(ckan, "huangmeizhen-yuanming")
    assert package["id"] == first["id"] and package["url"] == PORTAL_URL + "/huangmeizhen/xinming/"
    assert absent(ckan, "huangmeizhen-xinming")

    with portal.request() as request:
        other = request.dbsession.scalar(select(Unit).where(Unit.title == OTHER_TOWN))
        content.move_to(request, request.dbsession.get(Node, made.id), other, unrestricted=True)
        other_name, other_title = other.name, other.title
    portal.drain()
    package = show(ckan, "huangmeizhen-yuanming")
    assert package["id"] == first["id"] and package["url"] == f"{PORTAL_URL}/{other_name}/xinming/"
    assert (package["organization"]["name"], package["organization"]["title"]) == (f"rp-{other_name}", other_title)
    assert portal.record(made.id).name == "huangmeizhen-yuanming"
    assert len(package["resources"]) == 1


# -- 5. retracted, republished, deleted ------------------------------------------------------------

def test_retracting_withdraws_the_package_republishing_revives_it_and_deleting_deletes_it(
        portal: Portal, ckan: Ckan) -> None:
    made = portal.add_dataset("chehui", file_resource("人口表"))
    portal.drain()
    first = show(ckan, "huangmeizhen-chehui")

    portal.transition(made.id, "retract", "数据有误，暂时撤回")
    assert portal.drain().withdrawn == 1
    assert show(ckan, first["id"])["state"] == "deleted"  # a sysadmin still sees it
    assert portal.record(made.id).state == "withdrawn"
    assert portal.json(made.path, "editor")["ckan"]["state"] == "withdrawn"

    portal.transition(made.id, "submit")
    portal.transition(made.id, "publish")
    portal.drain()
    package = show(ckan, "huangmeizhen-chehui")
    assert (package["id"], package["state"]) == (first["id"], "active")
    assert [r["id"] for r in package["resources"]] == [first["resources"][0]["id"]]
    assert portal.json(made.path)["ckan"]["state"] == "synced"

    with portal.request() as request:
        content.delete(request, request.dbsession.get(Node, made.id), unrestricted=True)
    assert portal.drain().withdrawn == 1
    assert show(ckan, first["id"])["state"] == "deleted"
    # the record stays, under a key no node can have (a new node may get this id on SQLite)
    assert portal.record(made.id) is None
    assert (portal.record(-made.id).state, portal.record(-made.id).ckan_id) == ("withdrawn", first["id"])


# -- 7. CKAN refuses a dataset -----------------------------------------------------------------------

def test_a_dataset_ckan_refuses_shows_why_to_its_editors_and_waits_for_a_change(portal: Portal, ckan: Ckan) -> None:
    # an address CKAN's validator refuses, written past the form (which refuses it too, as CKAN does:
    # the portal's own checks may lag behind CKAN's, and then this is what editors see)
    made = portal.add_dataset("jujue", file_resource("人口表"), state="pending")
    with portal.request() as request:
        request.dbsession.get(Dataset, made.id).contact_email = "wang..ke@huangmei.gov.cn"
    for node_id in (made.id, *made.resources):
        portal.transition(node_id, "publish")
    report = portal.drain()
    assert report.failed == 1 and not report.unreachable
    record = portal.record(made.id)
    assert record.state == "error" and "maintainer_email" in record.error and record.ckan_id is None
    assert absent(ckan, "huangmeizhen-jujue")
    assert portal.json(made.path, "editor")["ckan"] | {"synced_at": None} == {
        "state": "error", "id": None, "name": "huangmeizhen-jujue", "url": None, "error": record.error,
        "synced_at": None}
    assert portal.json(made.path)["ckan"]["state"] == "error"
    assert portal.json(made.path)["ckan"]["error"] is None  # the public is not told CKAN's words

    # a change that does not change what would be sent (an editor's draft) is not sent again
    portal.edit(made.id, {"description": "草稿中的新摘要"}, who="editor")
    assert portal.rows(made.id)
    report = portal.drain()
    assert sum(report.calls.values()) == 0 and report.unchanged == 1 and not portal.rows(made.id)
    assert portal.record(made.id).state == "error"

    assert retry_failed(portal.registry) == 1  # e.g. after CKAN's validation was changed
    report = portal.drain()
    assert report.failed == 1 and report.calls["package_create"] == 1

    portal.edit(made.id, {"contact_email": "wang.ke@huangmei.gov.cn"})
    assert portal.drain().created == 1
    record = portal.record(made.id)
    assert (record.state, record.error) == ("synced", "")
    assert show(ckan, "huangmeizhen-jujue")["maintainer_email"] == "wang.ke@huangmei.gov.cn"
    assert portal.json(made.path, "editor")["ckan"]["error"] is None


# -- another portal sharing the CKAN -------------------------------------------------------------

def test_a_package_of_another_portal_with_the_same_name_and_uid_is_never_taken_over(
        portal: Portal, ckan: Ckan) -> None:
    made = portal.add_dataset("gongyong", file_resource("人口表"), state="pending")
    # another portal (its own prefix, its own node ids) republished a dataset of the same unit,
    # URL name and node id
    theirs_org = ckan.api.action.organization_create(name="staging-huangmeizhen", title="黄梅镇（测试站）")
    theirs = ckan.api.action.package_create(
        name="huangmeizhen-gongyong", title="测试站的数据集", owner_org=theirs_org["id"],
        extras=[{"key": "portal_uid", "value": str(made.id)}])
    for node_id in (made.id, *made.resources):
        portal.transition(node_id, "publish")
    assert portal.drain().created == 1

    record = portal.record(made.id)
    assert record.name == f"huangmeizhen-gongyong-{made.id}" and record.ckan_id != theirs["id"]
    ours = show(ckan, record.name)
    assert ours["organization"]["name"] == "rp-huangmeizhen" and len(ours["resources"]) == 1
    untouched = show(ckan, theirs["id"])
    assert (untouched["title"], untouched["owner_org"], untouched["resources"]) == ("测试站的数据集", theirs_org["id"], [])


def test_a_dataset_made_after_a_deletion_never_inherits_the_deleted_ones_package(portal: Portal, ckan: Ckan) -> None:
    old = portal.add_dataset("jiude", link_resource("国家统计局数据库"))
    portal.drain()
    old_package = show(ckan, "huangmeizhen-jiude")
    with portal.request() as request:
        content.delete(request, request.dbsession.get(Node, old.id), unrestricted=True)
    new = portal.add_dataset("xinde", file_resource("人口表"))
    assert new.id == old.id  # SQLite gives the highest id again once its holder is deleted
    report = portal.drain()
    assert (report.created, report.withdrawn, report.failed) == (1, 1, 0)

    record = portal.record(new.id)
    assert record.name == "huangmeizhen-xinde" and record.ckan_id != old_package["id"]
    assert show(ckan, "huangmeizhen-xinde")["title"] == "黄梅县各乡镇户籍人口（xinde）"
    gone = show(ckan, old_package["id"])
    assert (gone["state"], gone["title"]) == ("deleted", "黄梅县各乡镇户籍人口（jiude）")


# -- 8. `ckan-sync --all` compares and writes only what differs ----------------------------------------

def test_sync_all_writes_nothing_on_an_unchanged_catalogue_and_puts_back_a_hand_edit(
        portal: Portal, ckan: Ckan) -> None:
    made = portal.add_dataset("bidui", file_resource("人口表"), link_resource("国家统计局数据库"))
    portal.drain()
    with portal.session() as session:
        names = list(session.scalars(select(CkanPackage.name).where(CkanPackage.state == "synced")))
    assert "huangmeizhen-bidui" in names
    modified = {name: show(ckan, name)["metadata_modified"] for name in names}

    report = Sender(portal.registry).sync_all()
    assert report.write_calls == 0 and not report.unreachable
    assert report.unchanged >= len(names) and report.updated == report.created == 0
    assert {name: show(ckan, name)["metadata_modified"] for name in names} == modified

    ckan.api.action.package_patch(id="huangmeizhen-bidui", title="有人在 CKAN 里改了标题")
    report = Sender(portal.registry).sync_all()
    assert report.updated == 1 and report.calls["package_update"] == 1
    package = show(ckan, "huangmeizhen-bidui")
    assert package["title"] == "黄梅县各乡镇户籍人口（bidui）" and len(package["resources"]) == 2
    assert portal.record(made.id).state == "synced"


# -- 9. the commands --------------------------------------------------------------------------------

def run_portal(ini: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`portal -c INI ARGS` in a process of its own, as an operator or a service manager runs it."""
    env = {k: v for k, v in os.environ.items() if k != "PORTAL_CKAN_API_TOKEN"}
    script = "import sys; from portal.cli import main; sys.exit(main())"  # the venv's `portal` script
    return subprocess.run([sys.executable, "-c", script, "-c", str(ini), *args], cwd=ROOT, env=env, check=False,
                          capture_output=True, text=True, timeout=120)


LINE = re.compile(r"^(\d+) created, (\d+) updated, (\d+) withdrawn, (\d+) unchanged, (\d+) refused by CKAN; "
                  r"(\d+) CKAN calls \((\d+) writes\) in [\d.]+ s$")


def test_the_ckan_sync_and_ckan_worker_commands(portal: Portal, ckan: Ckan, tmp_path: Path) -> None:
    ini = portal.write_ini(tmp_path / "portal.ini")
    down = portal.write_ini(tmp_path / "down.ini", **{"catalog.ckan_url": f"http://127.0.0.1:{free_port()}",
                                                     "catalog.ckan_timeout": "5"})
    made = portal.add_dataset("mingling", file_resource("人口表"))

    result = run_portal(down, "ckan-sync", "--quiet")
    assert result.returncode == 2 and "CKAN unreachable, 1 datasets stay queued" in result.stderr
    assert ckan.api_token not in result.stdout + result.stderr
    assert {(row.attempts, row.not_before is not None) for row in portal.rows(made.id)} == {(1, True)}

    result = run_portal(ini, "ckan-sync", "--quiet")
    assert result.returncode == 0, result.stderr
    assert LINE.match(result.stdout.strip()).group(1, 5) == ("1", "0"), result.stdout
    assert show(ckan, "huangmeizhen-mingling")["resources"][0]["portal_hash"]
    assert not portal.rows(made.id)

    result = run_portal(ini, "ckan-sync", "--all", "--quiet")
    assert result.returncode == 0, result.stderr
    counts = LINE.match(result.stdout.strip()).groups()
    assert counts[:3] == ("0", "0", "0") and int(counts[3]) >= 1 and counts[6] == "0", result.stdout

    portal.edit(made.id, {"title": "工人在命令行下同步的数据集"})
    result = run_portal(ini, "ckan-worker", "--once")
    assert result.returncode == 0, result.stderr
    assert "ckan-worker: 0 created, 1 updated" in result.stderr
    assert show(ckan, "huangmeizhen-mingling")["title"] == "工人在命令行下同步的数据集"


# -- 6. CKAN going away in the middle of a sync --------------------------------------------------------

@contextlib.contextmanager
def ckan_comes_back(ckan: Ckan) -> Iterator[None]:
    """Whatever happens inside, CKAN runs again afterwards (the other tests need it)."""
    try:
        yield
    finally:
        if ckan.server._ckan is None:  # stop_ckan() forgets the process it stopped
            ckan.server.start_ckan()


def test_ckan_killed_in_the_middle_of_fifty_datasets_and_answers_lost_each_change_arrives_once(
        ckan: Ckan, tmp_path_factory: Any) -> None:
    bulk = make_portal(tmp_path_factory.mktemp("bulk"), ckan.url, ckan.api_token, "bulk-")
    files = {f"piliang-{n:02d}": f"乡镇,户籍人口\r\n黄梅镇,{100000 + n}\r\n".encode("gbk") for n in range(1, 51)}
    ids = [bulk.add_dataset(name, file_resource("人口表", data)).id for name, data in files.items()]

    # the 42nd call would upload the file of a dataset whose package was just created
    with ckan_comes_back(ckan):
        failed_at = utcnow()
        report = bulk.drain(api=KillsCkan(real_api(ckan), ckan.server, before=42))
        assert report.unreachable and "Connection" in report.unreachable
        sent = {i for i in ids if (record := bulk.record(i)) is not None and record.state == "synced"}
        rows = bulk.rows(*ids)
        assert 0 < len(sent) < 50 and {row.node_id for row in rows} == set(ids) - sent
        assert all(row.attempts == 1 and row.not_before > failed_at and row.last_error for row in rows)
        assert Sender(bulk.registry).drain().calls.total() == 0  # CKAN down and backing off: no try
    assert requests.get(f"{ckan.url}/api/3/action/status_show", timeout=10).status_code == 200

    # CKAN is back: `ckan-sync` sends every row whatever its backoff. On the way, the answers to
    # one package_create and one resource_create are lost after CKAN did the work.
    losing = LosesAnswers(real_api(ckan), "package_create", "resource_create")
    for _attempt in range(5):
        report = bulk.drain(api=losing, due_only=False)
        if not report.unreachable:
            break
    assert sorted(losing.lost) == ["package_create", "resource_create"]
    assert not report.unreachable and not bulk.rows(*ids)

    records = [bulk.record(i) for i in ids]
    assert {r.state for r in records} == {"synced"}
    names = {r.name for r in records}
    assert names == {f"huangmeizhen-{name}" for name in files}
    in_org = ckan.api.action.package_search(fq=f"organization:{bulk.org()}", rows=1000)
    assert in_org["count"] == 50 and {p["name"] for p in in_org["results"]} == names
    assert sorted(n for n in ckan.api.action.package_list() if "piliang" in n) == sorted(names)  # no "-uid" twin
    with bulk.session() as session:
        digests = {r.name: session.get(Node, i).children[0].file["hash"] for r, i in zip(records, ids)}
    for record in records:
        package = show(ckan, record.ckan_id)
        assert package["name"] == record.name and package["state"] == "active"
        (resource,) = package["resources"]  # exactly one: no upload twice, none lost
        assert resource["portal_hash"] == digests[record.name] and resource["url_type"] == "upload"
    # the one cut between its package and its upload, whose next upload's answer was lost too
    assert download(show(ckan, "huangmeizhen-piliang-20")["resources"][0]["url"]) == files["piliang-20"]


# -- the development flow, and CKAN unreachable ---------------------------------------------------------

def publish_through_the_api(portal: Portal, made: Made) -> None:
    """The reviewer publishes the resources, then the dataset, as the web client does."""
    testapp = webtest.TestApp(portal.app)
    headers = {**JSON, **api_token(testapp, "reviewer")}
    with portal.session() as session:
        paths = [session.get(Node, i).path for i in made.resources] + [made.path]
    for path in paths:
        assert testapp.post_json(path + "@workflow/publish", {}, headers=headers).status_int == 200


def test_in_development_a_publish_is_in_ckan_as_soon_as_its_request_commits(ckan: Ckan, tmp_path_factory: Any) -> None:
    dev = make_portal(tmp_path_factory.mktemp("dev"), ckan.url, ckan.api_token, "dev-",
                      **{"catalog.send_after_commit": "true"})
    made = dev.add_dataset("kaifa", file_resource("人口表"), state="pending")
    assert absent(ckan, "huangmeizhen-kaifa") and not dev.rows(made.id)  # sent: nothing public to send

    publish_through_the_api(dev, made)
    package = show(ckan, "huangmeizhen-kaifa")
    assert package["organization"]["name"] == "dev-huangmeizhen" and len(package["resources"]) == 1
    assert not dev.rows(made.id) and dev.record(made.id).state == "synced"

    dev.edit(made.id, {"title": "开发环境里改的标题"})
    assert show(ckan, "huangmeizhen-kaifa")["title"] == "开发环境里改的标题"


def test_with_ckan_unreachable_a_publish_succeeds_and_waits_in_the_outbox(ckan: Ckan, tmp_path_factory: Any) -> None:
    base = tmp_path_factory.mktemp("down")
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    down = make_portal(base, closed, ckan.api_token, "down-",
                       **{"catalog.send_after_commit": "true", "catalog.ckan_timeout": "5"})
    made = down.add_dataset("tingji", file_resource("人口表"), state="pending")
    before = utcnow()
    publish_through_the_api(down, made)  # the request succeeds: its send after the commit failed quietly

    with down.session() as session:
        assert session.get(Node, made.id).state == "published"
    rows = down.rows(made.id)
    assert rows and all(row.attempts >= 1 and row.not_before > before for row in rows)
    assert all(closed in row.last_error and ckan.api_token not in row.last_error for row in rows)
    assert down.json(made.path)["ckan"]["state"] == "pending"
    record = down.record(made.id)  # the name is kept before the first create, nothing more
    assert (record.name, record.ckan_id, record.state) == ("huangmeizhen-tingji", None, "")
    assert absent(ckan, "huangmeizhen-tingji")

    # the operator points the portal at the right address: what waited is sent
    back = open_portal({**down.settings, "catalog.ckan_url": ckan.url, "catalog.send_after_commit": "false"})
    report = back.drain(due_only=False)
    assert report.created >= 1 and not report.unreachable and not back.rows(made.id)
    assert len(show(ckan, "huangmeizhen-tingji")["resources"]) == 1
    assert back.json(made.path)["ckan"]["state"] == "synced"
