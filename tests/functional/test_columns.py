"""Issue 9 through the pages, the API and the CLI: the standard columns of a unit, the add menu by
column kind, and retracting a unit (or column) with public content: a confirmation page that says
what becomes unreachable, and a comment the API asks for too."""
from __future__ import annotations

from typing import Any

import lxml.html
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from portal import content
from portal.models import Node, Portal, Redirect, Unit, WorkflowEvent
from tests.conftest import api_token, csrf_token, login
from tests.unit.test_cli import INI
from tests.unit.test_search_cli import run_cli

HOST = "http://example.com"


def publish(request: Any, container: Node, type_name: str, title: str, **data: Any) -> Node:
    if type_name == "Disclosure":
        data.update(subject="综合政务", genre="通知")
    node = content.create(request, container, type_name, {"title": title, **data})
    content.set_state(request, node, "published", "publish")
    request.dbsession.flush()
    return node


def select_options(html: str) -> list[str]:
    doc = lxml.html.fromstring(html)
    return doc.xpath('//form[contains(@action, "@@add")]//select[@name="type"]/option/@value')


def elsewhere_links(html: str) -> list[tuple[str, str]]:
    doc = lxml.html.fromstring(html)
    return [(a.text_content().strip(), a.get("href")) for a in doc.xpath('//nav[@class="add-elsewhere"]//a')]


# -- the unit home and the add menu -----------------------------------------------------------------

def test_the_unit_home_lists_its_standard_columns(testapp, town):
    res = testapp.get(town.path)
    doc = lxml.html.fromstring(res.text)
    headings = [h.text_content().strip() for h in doc.xpath('//section[@class="block column"]/h2')]
    assert headings[:4] == ["新闻动态", "通知公告", "政策文件", "政府信息公开"]
    assert testapp.get(f"{town.path}xwdt/").status_int == 200  # public: the unit is
    empty = doc.xpath('//section[@class="block column"][h2/a/text()="政策文件"]/p[@class="empty"]')
    assert [p.text_content() for p in empty] == ["暂无信息"]  # not an empty heading


def test_the_unit_root_add_menu_leads_news_and_documents_to_the_columns(testapp, town, users):
    login(testapp, "editor")
    res = testapp.get(town.path)
    options = select_options(res.text)
    assert "Page" in options and "News" not in options and "Disclosure" not in options
    links = dict(elsewhere_links(res.text))
    assert links["新闻 → 新闻动态"] == f"{HOST}{town.path}xwdt/@@add?type=News"
    assert links["新闻 → 通知公告"] == f"{HOST}{town.path}tzgg/@@add?type=News"
    assert links["政府信息公开文件 → 政府信息公开"] == f"{HOST}{town.path}xxgk/@@add?type=Disclosure"
    assert links["政府信息公开文件 → 政策文件"] == f"{HOST}{town.path}zcwj/@@add?type=Disclosure"
    form = testapp.get(links["新闻 → 新闻动态"])
    assert form.status_int == 200 and 'name="title"' in form.text


@pytest.mark.parametrize("column, offered, not_offered", [
    ("xwdt", "News", "Disclosure"), ("tzgg", "News", "Disclosure"),
    ("xxgk", "Disclosure", "News"), ("zcwj", "Disclosure", "News"),
])
def test_a_column_add_menu_offers_its_kind(testapp, town, users, column, offered, not_offered):
    login(testapp, "editor")
    res = testapp.get(f"{town.path}{column}/")
    options = select_options(res.text)
    assert offered in options and not_offered not in options and "Page" in options
    assert elsewhere_links(res.text) == []


def test_no_add_menu_for_those_who_cannot_add(testapp, town, users):
    assert elsewhere_links(testapp.get(town.path).text) == []
    login(testapp, "other-editor")
    res = testapp.get(town.path)
    assert elsewhere_links(res.text) == [] and select_options(res.text) == []


def test_the_api_addable_types_follows_the_placement(testapp, town, users):
    editor = api_token(testapp, "editor")
    root = testapp.get(town.path, headers=editor).json
    assert "Page" in root["addable_types"]
    assert not {"News", "Disclosure"} & set(root["addable_types"])
    assert "News" in testapp.get(f"{town.path}xwdt/", headers=editor).json["addable_types"]
    assert "Disclosure" in testapp.get(f"{town.path}xxgk/", headers=editor).json["addable_types"]
    # not offered, still accepted (see content_types.columns)
    testapp.post_json(town.path, {"@type": "News", "title": "根下的新闻"}, headers=editor, status=201)


# -- retracting a unit: confirmation and comment -------------------------------------------------

@pytest.fixture
def public_news(request_as, town) -> Node:
    return publish(request_as("manager"), town.get("xwdt"), "News", "黄梅镇召开专网推进会")


def retract(testapp, token, node, **more: str):
    return testapp.post(f"{node.path}@@transition", {"csrf_token": token, "transition": "retract", **more})


def test_retract_on_a_unit_shows_what_becomes_unreachable(testapp, dbsession, town, users, public_news):
    token = login(testapp, "manager")
    res = retract(testapp, token, town, comment="")
    assert res.status_int == 200  # the confirmation page, nothing done
    assert "个公开内容将无法访问" in res.text
    doc = lxml.html.fromstring(res.text)
    counts = [li.text_content() for li in doc.xpath('//ul[@class="offline-counts"]/li')]
    assert any(c.startswith("栏目") for c in counts) and "新闻: 1" in counts
    assert "黄梅镇召开专网推进会" in [a.text_content() for a in doc.xpath('//ul[@class="offline-examples"]//a')]
    assert doc.xpath('//textarea[@name="comment"]/@required')
    assert doc.xpath('//input[@name="confirmed"]/@value') == ["1"]
    dbsession.expire(town)
    assert town.state == "published"
    assert testapp.get(f"{town.path}@@transition?transition=retract").status_int == 200  # also on GET


def test_confirming_without_a_comment_is_refused_on_the_page(testapp, dbsession, town, users, public_news):
    token = login(testapp, "manager")
    res = retract(testapp, token, town, confirmed="1", comment=" ")
    assert res.status_int == 200 and "请在备注中说明原因" in res.text
    dbsession.expire(town)
    assert town.state == "published"


def test_confirmed_with_a_comment_takes_the_unit_offline(testapp, dbsession, town, users, public_news):
    token = login(testapp, "manager")
    res = retract(testapp, token, town, confirmed="1", comment="机构撤并，子站停用")
    assert res.status_int == 302
    dbsession.expire_all()
    assert town.state == "private"
    event = dbsession.scalars(select(WorkflowEvent).where(WorkflowEvent.node_id == town.id)
                              .order_by(WorkflowEvent.id.desc())).first()
    assert (event.transition, event.comment, event.actor) == ("retract", "机构撤并，子站停用", "manager")
    testapp.reset()
    testapp.get(public_news.path, status=404)  # everything below went with it


def test_the_confirmation_page_is_refused_to_those_who_may_not_retract(testapp, town, users):
    login(testapp, "editor")
    testapp.get(f"{town.path}@@transition?transition=retract", status=403)
    login(testapp, "reviewer")  # units are retracted by managers only
    testapp.get(f"{town.path}@@transition?transition=retract", status=403)


def test_a_column_with_public_news_also_asks(testapp, dbsession, town, users, public_news):
    token = login(testapp, "reviewer")
    xwdt = town.get("xwdt")
    res = retract(testapp, token, xwdt)
    assert res.status_int == 200 and "1 个公开内容将无法访问" in res.text
    assert retract(testapp, token, xwdt, confirmed="1", comment="栏目调整").status_int == 302
    dbsession.expire(xwdt)
    assert xwdt.state == "private"


def test_an_item_is_retracted_in_one_click(testapp, dbsession, town, users, public_news):
    token = login(testapp, "reviewer")
    assert retract(testapp, token, public_news).status_int == 302
    dbsession.expire(public_news)
    assert public_news.state == "private"


def test_the_api_asks_for_a_comment(testapp, dbsession, town, users, public_news):
    manager = api_token(testapp, "manager")
    res = testapp.post_json(f"{town.path}@workflow/retract", {}, headers=manager, status=400)
    assert "个公开内容将无法访问" in res.json["error"]["message"]
    assert res.json["error"]["errors"][0]["field"] == "comment"
    dbsession.expire(town)
    assert town.state == "published"
    res = testapp.post_json(f"{town.path}@workflow/retract", {"comment": "机构撤并"}, headers=manager)
    assert res.json["review_state"] == "private"


def test_the_root_cannot_be_retracted_on_the_page(testapp, dbsession, users):
    token = login(testapp, "manager")
    res = testapp.post("/@@transition", {"csrf_token": token, "transition": "retract", "comment": "整站下线"})
    assert res.status_int == 302 and "该内容在当前状态下不能执行此操作。" in res.follow().text
    assert dbsession.scalar(select(Portal)).state == "published"
    res = testapp.get("/@@transition?transition=retract", status=302)
    assert "该内容在当前状态下不能执行此操作。" in res.follow().text


# -- the command ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def old_site(tmp_path_factory: Any) -> dict[str, Any]:
    """A portal initialised by `portal init`, then made to look like one of an earlier release:
    黄梅镇 without its columns, with a news item and a document at its root."""
    tmp = tmp_path_factory.mktemp("standard-columns")
    ini = tmp / "test.ini"
    ini.write_text(INI.format(db=tmp / "portal.db", blobs=tmp / "blobs", index=tmp / "index"), encoding="utf-8")
    code, _out, err = run_cli(str(ini), "init")
    assert code == 0, err
    from portal.cli import script_request

    with script_request(str(ini)) as request:
        town = request.dbsession.scalar(select(Unit).where(Unit.title == "黄梅镇"))
        for name in ("xwdt", "tzgg", "zcwj", "xxgk"):
            content.delete(request, town.get(name), unrestricted=True)
        for type_name, title in (("News", "镇里的新闻"), ("Disclosure", "镇里的公开文件"), ("Page", "镇情简介")):
            data = {"title": title, **({"subject": "综合政务", "genre": "通知"} if type_name == "Disclosure" else {})}
            node = content.create(request, town, type_name, data, unrestricted=True)
            content.set_state(request, node, "published", "publish")
    return {"ini": str(ini), "db": tmp / "portal.db"}


def paths(db_path: Any) -> dict[str, str]:
    engine = create_engine(f"sqlite:///{db_path}")
    with Session(engine) as session:
        found = dict(session.execute(select(Node.title, Node.path).where(Node.path.like("/huangmeizhen/%"))).all())
        found["redirects"] = ",".join(sorted(session.scalars(select(Redirect.old_path))))
    engine.dispose()
    return found


def test_the_command_files_loose_items_once(old_site):
    before = paths(old_site["db"])
    code, out, err = run_cli(old_site["ini"], "standard-columns", "--dry-run")
    assert code == 0, err
    assert "/huangmeizhen/\t黄梅镇: columns 新闻动态, 通知公告, 政策文件, 政府信息公开; 2 loose items filed" in out
    assert "would create 4 columns in 1 units, would move 2 items" in out
    assert paths(old_site["db"]) == before
    code, out, err = run_cli(old_site["ini"], "standard-columns")
    assert code == 0, err
    assert "created 4 columns in 1 units, moved 2 items" in out
    after = paths(old_site["db"])
    assert after["镇里的新闻"] == "/huangmeizhen/xwdt/zhenlidexinwen/"
    assert after["镇里的公开文件"] == "/huangmeizhen/xxgk/zhenlidegongkaiwenjian/"
    assert after["镇情简介"] == before["镇情简介"]
    assert "/huangmeizhen/zhenlidexinwen/" in after["redirects"]
    code, out, _err = run_cli(old_site["ini"], "standard-columns")
    assert code == 0 and "created 0 columns in 0 units, moved 0 items" in out
    code, out, _err = run_cli(old_site["ini"], "init")  # init runs it too, and finds nothing more
    assert code == 0 and "standard columns" not in out


def test_a_moved_item_says_so_in_its_history(testapp, request_as, town, users):
    manager = request_as("manager")
    news = content.create(manager, town, "News", {"title": "放错位置的新闻"})
    old = news.path
    content.move_to(manager, news, town.get("xwdt"))
    manager.dbsession.flush()
    login(testapp, "manager")
    res = testapp.get(f"{news.path}@@history")
    assert f"已移动: {old} → {town.path}xwdt/{news.name}/" in res.text
    assert testapp.get(old, status=301).location == f"{HOST}{news.path}"


def test_the_disclosure_column_and_the_catalogue_keep_apart(testapp, request_as, town):
    """`xxgk` is the column's name and the catalogue's view name: `@@` keeps them apart."""
    doc = publish(request_as("manager"), town.get("xxgk"), "Disclosure", "栏目里的公开文件")
    column = testapp.get(f"{town.path}xxgk/")
    assert "<h1>政府信息公开</h1>" in column.text and "栏目里的公开文件" in column.text
    catalogue = testapp.get(f"{town.path}@@xxgk")
    cells = lxml.html.fromstring(catalogue.text).xpath('//table[contains(@class, "xxgk")]/tbody/tr/td[1]')
    assert [td.text_content() for td in cells] == [doc.index_number]
    assert testapp.get(f"{town.path}xxgkzn/").status_int == 200  # the guide stays where it was


def test_the_unit_home_lists_its_sub_units_apart_from_its_columns(testapp, dbsession, town):
    doc = lxml.html.fromstring(testapp.get(town.path).text)
    subunits = [u.title for u in dbsession.scalars(select(Unit).where(Unit.parent_id == town.id).order_by(Node.position))]
    assert subunits
    assert not set(subunits) & {h.text_content().strip() for h in doc.xpath('//section[@class="block column"]/h2')}
    assert doc.xpath('//section[@class="subunits"]/h2/text()') == ["下属单位"]
    assert [a.text_content() for a in doc.xpath('//section[@class="subunits"]//a')] == subunits
