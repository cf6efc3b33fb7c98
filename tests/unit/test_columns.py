"""Issue 9, where to put things: every unit's standard columns, the placement rule of the add menu,
moving an item into another container, filing the loose items of existing units, and the rule
that taking public content offline needs a comment (portal.content, so pages and API obey it)."""
from __future__ import annotations

from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationConflictError
from sqlalchemy import select

from content_types.columns import STANDARD_COLUMNS, placement, standard_column, standard_columns
from content_types.disclosure_catalogue import GUIDE_NAME, REPORTS_NAME
from content_types.folder import COLUMN_KINDS, Folder
from portal import content
from portal.content import ContentError, Forbidden
from portal.models import Node, Portal, Redirect, Revision, Unit
from portal.registry import add_choices, addable_types, content_types
from portal.visibility import public_now
from portal.workflow import find_transition
from search.outbox import SUBTREE, SearchOutbox

STANDARD = [("xwdt", "新闻动态", "动态"), ("tzgg", "通知公告", "通知公告"), ("zcwj", "政策文件", "政策文件"),
            ("xxgk", "政府信息公开", "信息公开")]


def make(request: Any, container: Node, type_name: str = "Page", state: str = "private", **data: Any) -> Node:
    data.setdefault("title", "测试")
    if type_name == "Folder":
        data.setdefault("column_kind", "其他")
    if type_name == "Disclosure":
        data.setdefault("subject", "综合政务")
        data.setdefault("genre", "通知")
    node = content.create(request, container, type_name, data, unrestricted=True)
    if state != "private":
        content.set_state(request, node, state, "test")
    request.dbsession.flush()
    return node


def columns_of(unit: Node) -> list[tuple[str, str, str]]:
    return [(c.name, c.title, c.column_kind) for c in unit.children if isinstance(c, Folder)]


def offered(request: Any, container: Node) -> tuple[set[str], set[tuple[str, str]]]:
    """(types offered in the container itself, (type, column name) entries leading elsewhere)."""
    choices = add_choices(request, container)
    return ({c.info.name for c in choices if not c.elsewhere},
            {(c.info.name, c.container.name) for c in choices if c.elsewhere})


def strip_columns(request: Any, unit: Unit) -> None:
    """A unit as an earlier release made it: no standard columns."""
    for child in list(unit.children):
        if child.name in {name for name, _title, _kind in STANDARD}:
            content.delete(request, child, unrestricted=True)
    request.dbsession.flush()


# -- every unit has its columns ------------------------------------------------------------------

def test_every_loaded_unit_has_the_four_standard_columns_published(dbsession):
    for unit in dbsession.scalars(select(Unit)):
        assert columns_of(unit)[:4] == STANDARD, unit.path
        assert all(c.state == "published" for c in unit.children[:4])


def test_a_new_unit_gets_its_columns_first_then_its_disclosure_pages(request_as, dbsession):
    root = dbsession.scalar(select(Portal))
    unit = content.create(request_as("manager"), root, "Unit", {
        "title": "县新设局", "full_name": "黄梅县新设局", "short_name": "新设局", "kind": "县直部门",
        "org_code": "421127-900"})
    dbsession.flush()
    assert unit.state == "private"  # the unit itself waits to be published; its columns are ready
    assert [c.name for c in unit.children] == ["xwdt", "tzgg", "zcwj", "xxgk", GUIDE_NAME, REPORTS_NAME]
    assert columns_of(unit)[:4] == STANDARD
    xwdt = unit.get("xwdt")
    assert (xwdt.state, xwdt.update_interval, xwdt.owner) == ("published", 14, "manager")
    assert unit.get("xxgk").path == f"{unit.path}xxgk/"
    # public once the unit is: nothing of a private unit is
    assert dbsession.scalar(select(Node.id).where(Node.id == xwdt.id, *public_now())) is None
    content.set_state(request_as("manager"), unit, "published", "publish")
    dbsession.flush()
    assert dbsession.scalar(select(Node.id).where(Node.id == xwdt.id, *public_now())) == xwdt.id


def test_the_standard_kinds_and_the_types_kinds_are_column_kinds(app):
    assert {c.kind for c in STANDARD_COLUMNS} == set(COLUMN_KINDS) - {"其他"}
    placed = {name: info.belongs_in for name, info in content_types(app.registry).items() if info.belongs_in}
    assert placed == {"News": ("动态", "通知公告"), "Disclosure": ("信息公开", "政策文件")}
    assert all(kind in COLUMN_KINDS for kinds in placed.values() for kind in kinds)


# -- the add menu: by column kind ------------------------------------------------------------------

def test_a_unit_root_offers_news_and_documents_only_through_its_columns(request_as, town):
    here, elsewhere = offered(request_as("editor"), town)
    assert {"News", "Disclosure"} & here == set()
    assert {"Page", "Folder", "File", "Image"} <= here
    assert {("News", "xwdt"), ("News", "tzgg"), ("Disclosure", "xxgk"), ("Disclosure", "zcwj"),
            ("Disclosure", REPORTS_NAME)} == elsewhere
    # in order of the kinds the type names: 新闻动态 before 通知公告, 政府信息公开 before 政策文件
    order = [(c.info.name, c.container.name) for c in add_choices(request_as("editor"), town) if c.elsewhere]
    assert order.index(("News", "xwdt")) < order.index(("News", "tzgg"))
    assert order.index(("Disclosure", "xxgk")) < order.index(("Disclosure", "zcwj"))
    # the API's addable_types is the same decision
    assert {i.name for i in addable_types(request_as("editor"), town)} == here


@pytest.mark.parametrize("column, wanted, unwanted", [
    ("xwdt", {"News"}, {"Disclosure"}),
    ("tzgg", {"News"}, {"Disclosure"}),
    ("zcwj", {"Disclosure"}, {"News"}),
    ("xxgk", {"Disclosure"}, {"News"}),
])
def test_a_column_offers_the_types_of_its_kind(request_as, town, column, wanted, unwanted):
    here, elsewhere = offered(request_as("editor"), town.get(column))
    assert wanted <= here and not unwanted & here
    assert {"Page", "Folder", "File", "Image"} <= here  # types of no kind go anywhere
    assert elsewhere == set()


def test_a_column_of_kind_other_takes_anything(request_as, town):
    other = make(request_as("manager"), town, "Folder", title="专题专栏", column_kind="其他")
    here, _elsewhere = offered(request_as("editor"), other)
    assert {"News", "Disclosure", "Page"} <= here


def test_a_sub_column_follows_its_own_kind(request_as, town):
    sub = make(request_as("manager"), town.get("xxgk"), "Folder", title="财政预决算", column_kind="信息公开")
    assert "Disclosure" in offered(request_as("editor"), sub)[0]
    sub = make(request_as("manager"), town.get("xxgk"), "Folder", title="工作动态", column_kind="动态")
    assert offered(request_as("editor"), sub)[0] & {"News", "Disclosure"} == {"News"}


def test_a_unit_without_matching_columns_still_offers_the_type(request_as, town):
    request = request_as("manager")
    for name in ("xwdt", "tzgg"):
        content.delete(request, town.get(name), unrestricted=True)
    request.dbsession.flush()
    here, elsewhere = offered(request_as("editor"), town)
    assert "News" in here and not any(t == "News" for t, _c in elsewhere)


def test_the_add_menu_asks_the_permission_where_the_item_goes(request_as, dbsession, town):
    assert offered(request_as("other_editor"), town) == (set(), set())
    assert ("News", "xwdt") in offered(request_as("editor"), town)[1]
    town.get("xwdt").inherit_roles = False  # the unit's editors lose their roles in 新闻动态
    dbsession.flush()
    elsewhere = offered(request_as("editor"), town)[1]
    assert ("News", "xwdt") not in elsewhere and ("News", "tzgg") in elsewhere


def test_adding_at_the_unit_root_is_not_refused(request_as, town):
    """Not offered, but accepted: the API and scripts that add news at a unit root keep working,
    and `portal standard-columns` files such items."""
    news = content.create(request_as("editor"), town, "News", {"title": "根下的新闻"})
    assert news.parent is town


def test_placement_is_one_rule(app):
    config = Configurator(settings={})
    config.include("portal.registry")
    config.set_placement(placement)
    config.set_placement(lambda container, info: None)
    with pytest.raises(ConfigurationConflictError):
        config.commit()


def test_placement_rule_without_kinds_has_no_opinion(app, town):
    info = content_types(app.registry)["Page"]
    assert placement(town, info) is None and placement(town.get("xwdt"), info) is None


# -- moving an item into another container ----------------------------------------------------------

def test_move_to_keeps_the_old_address_and_records_it(request_as, dbsession, town):
    request = request_as("manager")
    folder = make(request, town, "Folder", title="旧栏目", column_kind="动态")
    news = make(request, folder, "News", state="published", title="新闻")
    picture = make(request, folder, "Page", title="附页")
    old_news, old_picture = news.path, picture.path
    dbsession.query(SearchOutbox).delete()
    content.move_to(request, folder, town.get("xwdt"))
    dbsession.flush()
    dbsession.expire_all()
    assert folder.path == f"{town.path}xwdt/{folder.name}/"
    assert news.path == f"{folder.path}{news.name}/" and picture.path.startswith(folder.path)
    assert old_news != news.path and old_picture != picture.path
    assert dbsession.scalar(select(Redirect.node_id).where(Redirect.old_path == f"{town.path}jiulanmu/")) == folder.id
    moved = dbsession.scalars(select(Revision).where(Revision.node_id == folder.id, Revision.kind == "move")).all()
    assert [r.comment for r in moved] == [f"{town.path}jiulanmu/ → {folder.path}"]
    assert dbsession.scalars(select(SearchOutbox.op).where(SearchOutbox.node_id == folder.id)).all() == [SUBTREE]


def test_move_to_takes_a_free_name_and_goes_last(request_as, dbsession, town):
    request = request_as("manager")
    xwdt = town.get("xwdt")
    make(request, xwdt, "News", title="同名")
    loose = make(request, town, "News", title="同名")
    content.move_to(request, loose, xwdt)
    dbsession.flush()
    assert loose.name == "tongming-2" and xwdt.children[-1] is loose


def test_move_to_refuses_what_it_cannot_do(request_as, dbsession, town):
    request = request_as("manager")
    folder = make(request, town, "Folder", title="栏目甲")
    inner = make(request, folder, "Folder", title="子栏目")
    with pytest.raises(ContentError):
        content.move_to(request, folder, inner)  # into itself
    with pytest.raises(ContentError):
        content.move_to(request, folder, folder)
    root = dbsession.scalar(select(Portal))
    with pytest.raises(ContentError):
        content.move_to(request, root, folder)
    page = make(request, town, "Page", title="页面")
    with pytest.raises(ContentError):
        content.move_to(request, page, make(request, town, "Page", title="另一页"))  # not a container
    published = make(request, town, "News", state="published", title="已发布新闻")
    with pytest.raises(Forbidden):  # its public address changes at once: `rename`, as for a rename
        content.move_to(request_as("editor"), published, town.get("xwdt"))
    draft = make(request_as("editor"), town, "News", title="草稿新闻")
    with pytest.raises(Forbidden):  # not into another unit
        content.move_to(request_as("editor"), draft, dbsession.scalar(select(Unit).where(Unit.title == "孔垄镇")).get("xwdt"))
    content.move_to(request_as("editor"), draft, town.get("xwdt"))
    assert draft.parent is town.get("xwdt")


# -- filing the loose items of existing units -----------------------------------------------------

@pytest.fixture
def old_unit(request_as, dbsession, town) -> dict[str, Node]:
    """黄梅镇 as an earlier release left it: no standard columns, news and documents at its root."""
    request = request_as("manager")
    strip_columns(request, town)
    items = {
        "news": make(request, town, "News", state="published", title="镇里的新闻"),
        "draft": make(request_as("editor"), town, "News", title="新闻草稿"),
        "doc": make(request, town, "Disclosure", state="published", title="镇里的公开文件"),
        "page": make(request, town, "Page", state="published", title="镇情简介"),
        "own": make(request, town, "Folder", state="published", title="通知公告", column_kind="通知公告"),
    }
    dbsession.flush()
    return items


def test_standard_columns_files_loose_items_and_is_idempotent(request_as, dbsession, town, old_unit):
    request = request_as("manager")
    before = {k: n.path for k, n in old_unit.items()}
    index_number = old_unit["doc"].index_number
    dry = standard_columns(request, dry_run=True)
    assert [p.unit for p in dry] == [town]
    assert [s.name for s in dry[0].missing] == ["xwdt", "zcwj", "xxgk"]  # its own 通知公告 column is kept
    assert {(n.title, kind) for n, kind in dry[0].moves} == {("镇里的新闻", "动态"), ("新闻草稿", "动态"),
                                                            ("镇里的公开文件", "信息公开")}
    assert {k: n.path for k, n in old_unit.items()} == before and town.get("xwdt") is None  # a dry run writes nothing

    done = standard_columns(request)
    dbsession.flush()
    assert [p.unit for p in done] == [town]
    assert [c.name for c in town.children[:4]] == ["xwdt", old_unit["own"].name, "zcwj", "xxgk"]
    assert old_unit["news"].parent is town.get("xwdt") and old_unit["draft"].parent is town.get("xwdt")
    assert old_unit["doc"].parent is town.get("xxgk") and old_unit["doc"].index_number == index_number
    assert old_unit["page"].parent is town  # pages stay where they are
    assert (old_unit["news"].state, old_unit["draft"].state) == ("published", "private")
    for key in ("news", "doc"):
        assert dbsession.scalar(select(Redirect.node_id).where(Redirect.old_path == before[key])) == old_unit[key].id
    assert standard_columns(request) == []  # idempotent
    assert standard_columns(request_as("manager"), dry_run=True) == []


def test_the_site_set_up_brings_old_units_up_to_date(app, request_as, dbsession, town, old_unit):
    from portal.units import set_up_site

    report = set_up_site(request_as("manager"))
    assert old_unit["news"].parent is town.get("xwdt")
    assert any("黄梅镇" in line and "columns 新闻动态, 政策文件, 政府信息公开" in line for line in report.notes)
    assert set_up_site(request_as("manager")).notes == []


def test_standard_column_of_a_kind(town):
    assert standard_column(town, "动态") is town.get("xwdt")
    assert standard_column(town, "其他") is None


# -- taking public content offline -------------------------------------------------------------------

def test_retracting_a_unit_with_public_content_needs_a_comment(request_as, dbsession, town):
    manager = request_as("manager")
    make(manager, town.get("xwdt"), "News", state="published", title="公开新闻")
    make(manager, town.get("xwdt"), "News", title="草稿")  # not public: not counted
    offline = content.goes_offline(manager, town, find_transition(town, "retract"))
    # its 6 columns and pages, the news, and the sub-units (黄梅镇's communities) with theirs
    subunits = [u for u in dbsession.scalars(select(Unit).where(Node.path.like(f"{town.path}_%")))]
    assert subunits and offline.total == 7 + 7 * len(subunits)
    assert dict(offline.by_type) == {"Folder": 5 * (1 + len(subunits)), "Page": 1 + len(subunits),
                                     "Unit": len(subunits), "News": 1}
    assert offline.examples[0].title == "公开新闻" and len(offline.examples) == 5
    with pytest.raises(ContentError) as refused:
        content.transition(manager, town, "retract", "  ")
    assert refused.value.field == "comment"
    assert refused.value.message.mapping == {"count": str(offline.total)}
    assert town.state == "published"
    content.transition(manager, town, "retract", "机构撤并，子站停用")
    assert town.state == "private"


def test_a_column_with_only_private_content_is_retracted_without_a_comment(request_as, town):
    manager = request_as("manager")
    folder = make(manager, town, "Folder", state="published", title="新栏目")
    make(manager, folder, "News", title="草稿")
    assert content.goes_offline(manager, folder, find_transition(folder, "retract")) is None
    content.transition(request_as("reviewer"), folder, "retract")
    assert folder.state == "private"


def test_retracting_a_column_with_public_news_needs_a_comment(request_as, town):
    reviewer = request_as("reviewer")
    folder = make(request_as("manager"), town, "Folder", state="published", title="新栏目")
    make(request_as("manager"), folder, "News", state="published", title="公开新闻")
    with pytest.raises(ContentError):
        content.transition(reviewer, folder, "retract")
    content.transition(reviewer, folder, "retract", "栏目调整")
    assert folder.state == "private"


def test_an_item_or_a_publication_needs_no_such_comment(request_as, town):
    manager = request_as("manager")
    news = make(manager, town.get("xwdt"), "News", state="published", title="公开新闻")
    assert content.goes_offline(manager, news, find_transition(news, "retract")) is None
    content.transition(manager, news, "retract")
    folder = make(manager, town, "Folder", state="pending", title="待发布栏目")
    make(manager, folder, "News", state="published", title="里面的新闻")
    assert content.goes_offline(manager, folder, find_transition(folder, "publish")) is None
    content.transition(manager, folder, "publish")


def test_nothing_public_below_a_hidden_container(request_as, town):
    """Retracting a column of a unit that is already offline takes nothing more offline."""
    manager = request_as("manager")
    make(manager, town.get("xwdt"), "News", state="published", title="公开新闻")
    content.transition(manager, town, "retract", "停用")
    xwdt = town.get("xwdt")
    assert content.goes_offline(manager, xwdt, find_transition(xwdt, "retract")) is None


def test_the_root_cannot_be_retracted(request_as, dbsession):
    root = dbsession.scalar(select(Portal))
    with pytest.raises(ContentError) as refused:
        content.transition(request_as("manager"), root, "retract", "整站下线")
    assert refused.value.field == "transition" and root.state == "published"


def test_the_demo_puts_its_content_into_the_columns(request_as, dbsession):
    from content_types.demo import load_demo
    from portal.accounts import find_unit

    load_demo(request_as("manager"))
    dbsession.flush()
    office, town = find_unit(dbsession, "县政府办"), find_unit(dbsession, "黄梅镇")
    titles = {c.name: [n.title for n in c.children] for c in office.children if c.folderish}
    assert {"县电子政务专网首批接入单位完成联网调试", "县政府办召开政府网站集约化工作推进会"} <= set(titles["xwdt"])
    assert titles["xxgk"] == ["县人民政府办公室关于印发黄梅县电子政务专网建设实施方案的通知"]
    assert {n.type for n in office.get("xwdt").children} == {"News"}
    assert {n.type for n in office.get("zcwj").children} == {"Disclosure"}
    assert "黄梅镇开展电子政务培训（待审核）" in [n.title for n in town.get("tzgg").children]
    loose = [c for c in (*office.children, *town.children) if c.type in ("News", "Disclosure")]
    assert loose == []
