"""The disclosure catalogue as an open dataset (catalog.disclosure_export): 县政府办's 政府信息公开目录,
made by the site set-up, whose CSV says what /@@xxgk says, follows publication, retraction and
the dates, is regenerated at most once per delay, keeps no revision of an unchanged file, and is
kept current by the web process after a commit and by `portal disclosure-export`."""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import io
import time
from typing import Any

import lxml.html
import pytest
from pyramid.paster import get_appsettings
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from catalog import disclosure_export as export
from catalog.dataset import Dataset
from catalog.resource import Resource
from catalog.settings import catalog_settings
from content_types.columns import standard_column
from content_types.disclosure import Disclosure
from portal import content, main
from portal.accounts import add_user
from portal.blobs import BlobStore
from portal.cli import app_request, make_request
from portal.cli import main as portal_command
from portal.models import Node, Revision, Unit
from portal.models.node import utcnow
from portal.schemas import to_local
from portal.security import act_as
from portal.units import set_up_site
from tests.conftest import PASSWORD

MINUTE = dt.timedelta(minutes=1)


def office(dbsession) -> Unit:
    return dbsession.scalar(select(Unit).where(Unit.title == "县政府办"))


def export_resource(dbsession) -> Resource:
    return dbsession.get(Resource, export.export_row(dbsession).resource_id)


def stored_csv(request, resource: Resource) -> list[dict[str, str]]:
    """The resource's file as a data user reads it: UTF-8 with a BOM, through the csv module."""
    with request.blobs.open(resource.file["hash"]) as f:
        data = f.read()
    assert data.startswith("\ufeff".encode("utf-8"))
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def titles(request) -> list[str]:
    return [row["标题"] for row in stored_csv(request, export_resource(request.dbsession))]


def disclosure(request, unit: Unit, title: str, publish: bool = True, **fields: Any) -> Disclosure:
    """A document in the unit's 信息公开 column, submitted and published by the acting manager."""
    doc = content.create(request, standard_column(unit, "信息公开"), "Disclosure", {
        "title": title, "subject": "综合政务", "genre": "通知", **fields})
    if publish:
        content.transition(request, doc, "submit")
        content.transition(request, doc, "publish")
    request.dbsession.flush()
    return doc


def revision_count(dbsession, node: Node) -> int:
    return dbsession.scalar(select(func.count(Revision.id)).where(Revision.node_id == node.id))


@pytest.fixture
def manager(request_as):
    return request_as("manager")


# -- the dataset -------------------------------------------------------------------------------------

def test_the_site_set_up_makes_the_published_dataset_of_the_office_once(app, dbsession, tm):
    row = export.export_row(dbsession)
    dataset, resource = dbsession.get(Dataset, row.dataset_id), dbsession.get(Resource, row.resource_id)
    assert dataset.parent_id == office(dbsession).id and dataset.name == "xxgkml"
    assert (dataset.title, dataset.theme, dataset.update_frequency, dataset.license, dataset.open_class) == (
        "政府信息公开目录", "政府规范性文件", "实时", "cc-by", "无条件开放")
    assert "索引号" in dataset.description and dataset.state == "published" and dataset.issued is not None
    assert resource.parent_id == dataset.id and resource.state == "published"
    assert (resource.title, resource.format, resource.file["filename"]) == ("政府信息公开目录.csv", "CSV",
                                                                             "政府信息公开目录.csv")
    assert row.generated_at is not None

    request = make_request(app.registry, {"tm.manager": tm, "app.dbsession": dbsession})
    report = set_up_site(request)  # `portal init` again
    assert not [n for n in report.notes if "disclosure catalogue" in n]
    assert dbsession.scalar(select(func.count(Dataset.id)).where(Node.name == "xxgkml")) == 1
    assert export.export_row(dbsession).resource_id == resource.id


def test_a_deleted_resource_is_made_again_and_a_retracted_dataset_stays_retracted(manager, dbsession):
    dataset = dbsession.get(Dataset, export.export_row(dbsession).dataset_id)
    content.transition(manager, dataset, "retract", "暂停开放")
    content.delete(manager, export_resource(dbsession), unrestricted=True)
    dbsession.flush()
    dbsession.expire_all()
    assert export.export_row(dbsession).resource_id is None  # ON DELETE SET NULL
    assert export.regenerate_when_due(manager, force=True).reason.startswith("no resource")
    assert export.ensure_dataset(manager) is dataset
    assert dataset.state == "private" and export_resource(dbsession).state == "published"


def test_the_dataset_page_previews_the_csv_and_the_listing_shows_it(testapp, dbsession, manager, town):
    disclosure(manager, town, "关于开展春季植树活动的通知", doc_number="黄政发〔2026〕3号")
    export.regenerate(manager)
    dataset = dbsession.get(Dataset, export.export_row(dbsession).dataset_id)
    page = testapp.get(dataset.path)
    assert "政府信息公开目录" in page.text and "<th scope=\"col\">索引号</th>" in page.text
    assert "<td>关于开展春季植树活动的通知</td>" in page.text and "UTF-8" in page.text
    assert dataset.path in testapp.get("/@@datasets").text
    download = testapp.get(export_resource(dbsession).path + "@@download/file")
    assert download.body.decode("utf-8-sig").startswith("索引号,标题,发布机构,文号,主题分类,成文日期,发布日期,有效性,URL\r\n")


# -- the CSV -------------------------------------------------------------------------------------------

def test_the_header_is_exact_and_the_file_is_utf8_with_a_bom(manager):
    data = export.build_csv(manager)
    assert data.startswith(b"\xef\xbb\xbf")
    assert next(csv.reader(io.StringIO(data.decode("utf-8-sig")))) == [
        "索引号", "标题", "发布机构", "文号", "主题分类", "成文日期", "发布日期", "有效性", "URL"]


def test_a_published_document_has_the_values_of_the_catalogue_page(testapp, manager, town):
    doc = disclosure(manager, town, "黄梅镇关于印发《农村人居环境整治方案》的通知", doc_number="黄政发〔2026〕5号",
                     written_date=dt.date(2026, 1, 5), subject="城乡建设、环境保护", validity="已修订")
    assert export.regenerate(manager) is True
    (row,) = [r for r in stored_csv(manager, export_resource(manager.dbsession)) if r["索引号"] == doc.index_number]
    published = to_local(doc.published).strftime("%Y-%m-%d")
    assert row == {"索引号": doc.index_number, "标题": doc.title, "发布机构": "黄梅县黄梅镇人民政府",
                   "文号": "黄政发〔2026〕5号", "主题分类": "城乡建设、环境保护", "成文日期": "2026-01-05",
                   "发布日期": published, "有效性": "已修订", "URL": manager.resource_url(doc)}
    assert doc.index_number.startswith("421127-001/")
    page = lxml.html.fromstring(testapp.get("/@@xxgk").text)  # the county-wide catalogue shows the same words
    (row,) = [tr for tr in page.xpath('//table[contains(@class, "xxgk")]/tbody/tr')
              if tr.xpath("./td[1]")[0].text_content() == doc.index_number]
    cells = [" ".join(td.text_content().split()) for td in row.xpath("./td")]
    assert cells == [doc.index_number, doc.title, "黄梅县黄梅镇人民政府", "黄政发〔2026〕5号", "2026-01-05", published,
                     "已修订"]


def test_the_urls_start_with_the_configured_public_address(app, manager, town, monkeypatch):
    doc = disclosure(manager, town, "关于调整公交线路的公告")
    monkeypatch.setitem(app.registry, "catalog.settings",
                        dataclasses.replace(catalog_settings(app.registry), portal_url="https://www.huangmei.gov.cn"))
    export.regenerate(manager)
    (row,) = [r for r in stored_csv(manager, export_resource(manager.dbsession)) if r["标题"] == doc.title]
    assert row["URL"] == "https://www.huangmei.gov.cn" + doc.path


def test_newest_first_then_by_index_number(manager, town, other_town):
    first = disclosure(manager, town, "较早的文件")
    second = disclosure(manager, other_town, "较晚的文件")
    same_a, same_b = disclosure(manager, town, "同时发布甲"), disclosure(manager, town, "同时发布乙")
    first.published = utcnow() - 2 * MINUTE
    second.published = utcnow() - MINUTE
    same_a.published = same_b.published = utcnow()
    manager.dbsession.flush()
    export.regenerate(manager)
    mine = [t for t in titles(manager) if t in ("较早的文件", "较晚的文件", "同时发布甲", "同时发布乙")]
    by_index = sorted([same_a, same_b], key=lambda d: d.index_number)
    assert mine == [by_index[0].title, by_index[1].title, "较晚的文件", "较早的文件"]


def test_drafts_are_absent_and_retracted_documents_and_units_disappear(manager, dbsession, town, other_town):
    draft = disclosure(manager, town, "尚未发布的文件", publish=False)
    gone = disclosure(manager, town, "将被撤回的文件")
    kept = disclosure(manager, other_town, "孔垄镇的文件")
    export.regenerate(manager)
    assert {gone.title, kept.title} <= set(titles(manager)) and draft.title not in titles(manager)

    content.transition(manager, gone, "retract")
    assert dbsession.scalar(select(func.count(export.DisclosureChange.id))) == 1  # recorded in the transaction
    assert export.regenerate(manager) is True
    assert gone.title not in titles(manager) and kept.title in titles(manager)
    assert dbsession.scalar(select(func.count(export.DisclosureChange.id))) == 0  # read

    content.transition(manager, other_town, "retract", "子站停用")  # a unit taken offline: its documents too
    assert dbsession.scalar(select(func.count(export.DisclosureChange.id))) == 1
    assert export.regenerate(manager) is True
    assert kept.title not in titles(manager)


def test_changes_of_other_things_are_not_recorded(manager, dbsession, town):
    column = standard_column(town, "动态")
    news = content.create(manager, column, "News", {"title": "新闻", "body": "<p>正文</p>"})
    content.transition(manager, news, "submit")
    content.transition(manager, news, "publish")
    content.transition(manager, column, "retract", "栏目调整")  # a container without documents
    assert dbsession.scalar(select(func.count(export.DisclosureChange.id))) == 0


def test_a_change_rolled_back_with_its_savepoint_does_not_hide_the_next_one(manager, dbsession, town):
    savepoint = dbsession.begin_nested()  # as a failed action's: its writes, the recorded change with them, go
    disclosure(manager, town, "失败的操作", publish=False)
    savepoint.rollback()
    assert dbsession.scalar(select(func.count(export.DisclosureChange.id))) == 0
    disclosure(manager, town, "之后的操作")  # the same request: recorded again
    assert dbsession.scalar(select(func.count(export.DisclosureChange.id))) == 1


def test_a_document_appears_when_its_effective_date_passes(manager, town):
    doc = disclosure(manager, town, "定时生效的文件", effective=utcnow() + 10 * MINUTE)
    now = utcnow()
    export.regenerate(manager, now=now)
    assert doc.title not in titles(manager)
    # no event comes when the date passes; the due check sees it
    assert export.due_in(manager.dbsession, 0, now + 5 * MINUTE) is None
    assert export.regenerate_when_due(manager, now=now + 11 * MINUTE, delay=0).changed
    assert doc.title in titles(manager)


# -- debounced, and no revision for nothing ---------------------------------------------------------

def test_regeneration_waits_for_the_delay_since_the_last_one(manager, dbsession, town):
    start = utcnow()
    export.regenerate(manager, now=start)
    assert export.regenerate_when_due(manager, now=start + MINUTE, delay=300).reason.startswith("no change")

    disclosure(manager, town, "第一份文件")
    early = export.regenerate_when_due(manager, now=start + MINUTE, delay=300)
    assert not early.changed and "due in 240 s" in early.reason
    assert "第一份文件" not in titles(manager)
    assert export.regenerate_when_due(manager, now=start + 5 * MINUTE, delay=300).changed
    assert "第一份文件" in titles(manager)

    disclosure(manager, town, "第二份文件")  # a second change within the delay: not yet
    assert not export.regenerate_when_due(manager, now=start + 7 * MINUTE, delay=300).changed
    assert "第二份文件" not in titles(manager)
    assert export.regenerate_when_due(manager, now=start + 10 * MINUTE, delay=300).changed
    assert "第二份文件" in titles(manager)


def test_an_unchanged_csv_keeps_the_resource_as_it_is(manager, dbsession, town):
    disclosure(manager, town, "某文件")
    export.regenerate(manager)
    resource = export_resource(dbsession)
    before = (revision_count(dbsession, resource), resource.version, resource.file["hash"], resource.modified)
    assert export.regenerate(manager) is False
    draft = disclosure(manager, town, "草稿", publish=False)  # recorded, but nothing public changed
    content.save(manager, draft, {"title": "草稿（改）"})
    assert dbsession.scalar(select(func.count(export.DisclosureChange.id))) == 1
    assert export.regenerate(manager) is False
    assert (revision_count(dbsession, resource), resource.version, resource.file["hash"], resource.modified) == before


def test_a_new_file_is_saved_with_a_revision_and_approves_nobodys_change(app, manager, request_as, dbsession,
                                                                          town, users):
    editor = add_user(dbsession, "office-editor", PASSWORD, [], ["县政府办"])
    resource = export_resource(dbsession)
    as_editor = request_as("manager")
    act_as(as_editor, editor)
    assert content.save(as_editor, resource, {"description": "编辑修改的说明"}) == "draft"
    revisions, old_hash = revision_count(dbsession, resource), resource.file["hash"]

    disclosure(manager, town, "新文件")
    act_as(manager, None)  # the system: no user at all (the worker, the after-commit run)
    assert export.regenerate(manager) is True
    assert resource.file["hash"] != old_hash and resource.state == "published"
    assert revision_count(dbsession, resource) > revisions
    assert resource.description != "编辑修改的说明"  # the editor's change still waits for review ...
    assert resource.draft["description"] == "编辑修改的说明" and resource.draft_by == "office-editor"
    assert resource.draft["file"]["hash"] == resource.file["hash"]  # ... and would not bring the old file back
    assert "新文件" in titles(manager)


# -- the web process, the worker and the command ------------------------------------------------------

INI = """\
[app:main]
use = egg:huangmei-portal
pyramid.default_locale_name = zh_CN
sqlalchemy.url = sqlite:///{db}
portal.session_secret = export-test-secret-0123456789-0123456789-0123456789
portal.blobs_dir = {blobs}
portal.argon2_time_cost = 1
portal.argon2_memory_cost = 1024
portal.argon2_parallelism = 1
search.index_dir = {index}
"""


@pytest.fixture
def cli_env(tmp_path) -> dict[str, Any]:
    """An .ini on a fresh database, set up by `portal init`."""
    ini = tmp_path / "test.ini"
    ini.write_text(INI.format(db=tmp_path / "portal.db", blobs=tmp_path / "blobs", index=tmp_path / "index"),
                   encoding="utf-8")
    return {"ini": str(ini), "db": tmp_path / "portal.db", "blobs": tmp_path / "blobs",
            "init": run(str(ini), "init")}


def run(ini: str, *args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert portal_command(["-c", ini, *args]) == 0
    return out.getvalue()


def committed_csv(env: dict[str, Any]) -> list[dict[str, str]]:
    engine = create_engine(f"sqlite:///{env['db']}")
    with Session(engine) as session:
        resource = session.get(Resource, export.export_row(session).resource_id)
        with BlobStore(env["blobs"]).open(resource.file["hash"]) as f:
            data = f.read()
    engine.dispose()
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def publish_committed(registry: Any, title: str) -> None:
    """A manager's publication in a transaction of its own, committed (its after-commit runs)."""
    with app_request(registry) as request:
        user = add_user(request.dbsession, f"m{time.monotonic_ns()}", PASSWORD, ["managers"], [])
        act_as(request, user)
        disclosure(request, request.dbsession.scalar(select(Unit).where(Unit.title == "黄梅镇")), title)


def test_the_command_makes_the_dataset_and_regenerates_when_due_or_forced(cli_env):
    assert "disclosure catalogue dataset: made at /xianzhengfuban/xxgkml/" in cli_env["init"]
    assert "catalog.portal_url is not set" in cli_env["init"]  # the operator is told
    assert committed_csv(cli_env) == []
    app = main({}, **{**get_appsettings(cli_env["ini"]), "catalog.send_after_commit": "false"})
    publish_committed(app.registry, "命令行测试文件")

    assert "not regenerated: changed; due in" in run(cli_env["ini"], "disclosure-export")
    assert committed_csv(cli_env) == []
    out = run(cli_env["ini"], "disclosure-export", "--force")
    assert "政府信息公开目录.csv: 1 documents, new file saved" in out
    assert "dataset: http://127.0.0.1:6543/xianzhengfuban/xxgkml/" in out
    assert [row["标题"] for row in committed_csv(cli_env)] == ["命令行测试文件"]
    assert "no change since the last generation" in run(cli_env["ini"], "disclosure-export")


def test_the_web_process_regenerates_after_the_commit_and_after_the_delay(cli_env, monkeypatch):
    monkeypatch.setattr(export, "export_delay", lambda registry: 1)
    app = main({}, **get_appsettings(cli_env["ini"]))
    assert export.after_commit_enabled(app.registry)  # the default, as in development
    time.sleep(1.1)  # the delay since `portal init` generated the file
    publish_committed(app.registry, "第一份")
    assert [row["标题"] for row in committed_csv(cli_env)] == ["第一份"]  # regenerated right after the commit
    assert export.regenerate_if_due(app.registry) is False

    publish_committed(app.registry, "第二份")  # within the delay: a timer comes back for it
    assert [row["标题"] for row in committed_csv(cli_env)] == ["第一份"]
    timer = app.registry[export.TIMER_KEY]
    timer.join(5)
    assert not timer.is_alive()
    assert [row["标题"] for row in committed_csv(cli_env)] == ["第二份", "第一份"]


def test_the_demo_fills_the_csv(app, tm, dbsession):
    from content_types.demo import load_demo

    request = make_request(app.registry, {"tm.manager": tm, "app.dbsession": dbsession})
    load_demo(request)
    rows = stored_csv(request, export_resource(dbsession))
    (plan,) = [r for r in rows if r["文号"] == "梅政办发〔2011〕108号"]
    assert plan["标题"] == "县人民政府办公室关于印发黄梅县电子政务专网建设实施方案的通知"
    assert (plan["发布机构"], plan["成文日期"]) == ("黄梅县人民政府办公室", "2011-10-28")
