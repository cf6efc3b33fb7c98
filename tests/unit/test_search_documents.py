"""What the index holds for a node (`search.documents`): its fields, its text, and who may find it.

`allowed` must name exactly the principals that may view the node in its workflow state, as the
security policy decides: global roles as `role:<R>`, the owner as `user:<login>`, and everybody
holding a viewing role locally on the node or a parent (up to where inheritance is blocked).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pyramid.authorization import Everyone
from pyramid.interfaces import ISecurityPolicy
from sqlalchemy import select

from portal import content
from portal.cli import act_as
from portal.models import LocalRole, Node, Portal, User
from portal.sharing import set_roles
from search.documents import NOT_INDEXED, allowed_principals, document, indexable
from search.indexer import all_documents, count_documents
from tests.conftest import unit

STAFF = ["role:Contributor", "role:Editor", "role:Manager", "role:Reader", "role:Reviewer"]


@pytest.fixture
def request_(request_as: Any) -> Any:
    """A request acting as the editor of 黄梅镇."""
    return request_as("editor")


def as_user(request: Any, dbsession: Any, login: str) -> None:
    act_as(request, dbsession.scalar(select(User).where(User.login == login)))
    request.__dict__.pop("_portal_local_roles", None)


def new(request: Any, container: Node, type_name: str = "Page", **data: Any) -> Node:
    data.setdefault("title", "测试")
    if type_name == "Disclosure":
        data.setdefault("subject", "综合政务")
        data.setdefault("genre", "通知")
    return content.create(request, container, type_name, data)


def can_view(request: Any, node: Node, login: str | None) -> bool:
    """What the security policy says (the oracle for `allowed`)."""
    policy = request.registry.getUtility(ISecurityPolicy)
    user = request.dbsession.scalar(select(User).where(User.login == login)) if login else None
    act_as(request, user)
    request.__dict__.pop("_portal_local_roles", None)
    try:
        return bool(policy.permits(request, node, "view"))
    finally:
        act_as(request, None)


def base_principals(request: Any, login: str | None) -> set[str]:
    policy = request.registry.getUtility(ISecurityPolicy)
    user = request.dbsession.scalar(select(User).where(User.login == login)) if login else None
    act_as(request, user)
    try:
        return set(policy.base_principals(request))
    finally:
        act_as(request, None)


def finds(request: Any, node: Node, login: str | None) -> bool:
    """Whether a search by `login` may return the node (its principals meet `allowed`)."""
    return bool(base_principals(request, login) & set(allowed_principals(request.dbsession, node)))


# --- allowed principals per state ---------------------------------------------------------------

@pytest.mark.parametrize("state", ["private", "pending"])
def test_staff_states_allow_the_staff_roles_the_owner_and_the_units_editors(request_, dbsession, town, state):
    node = new(request_, town)
    node.state = state
    assert allowed_principals(dbsession, node) == sorted(STAFF + ["user:editor"])


def test_published_allows_everyone_and_the_staff_who_see_it_outside_its_dates(request_, dbsession, town):
    """Everyone within the effective window (the query applies it); staff whatever the dates."""
    node = new(request_, town)
    content.set_state(request_, node, "published", "publish")
    allowed = allowed_principals(dbsession, node)
    assert Everyone in allowed
    assert {"role:Reviewer", "role:Manager", "user:editor"} <= set(allowed)
    assert "user:other-editor" not in allowed


def test_the_owner_is_allowed_without_a_local_role(request_, dbsession, users):
    """The manager writes in 孔垄镇: the owner and 孔垄镇's editor may find it, 黄梅镇's editor may not."""
    as_user(request_, dbsession, "manager")
    node = new(request_, unit(dbsession, "孔垄镇"))
    assert node.owner == "manager"
    assert allowed_principals(dbsession, node) == sorted(STAFF + ["user:manager", "user:other-editor"])


def test_the_effective_window_is_not_in_allowed(request_, dbsession, town):
    """Time passing needs no reindex: the window goes into the document's dates, not into `allowed`."""
    dated = new(request_, town, effective=dt.datetime(2099, 1, 1), expires=dt.datetime(2100, 1, 1))
    plain = new(request_, town, title="不限时")
    for node in (dated, plain):
        content.set_state(request_, node, "published", "publish")
    assert allowed_principals(dbsession, dated) == allowed_principals(dbsession, plain)
    doc = document(dbsession, dated)
    assert doc["effective"] == dt.datetime(2099, 1, 1, tzinfo=dt.timezone.utc)
    assert doc["expires"] == dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("state", ["private", "pending", "published"])
@pytest.mark.parametrize("who", [None, "editor", "other-editor", "reviewer", "manager"])
def test_allowed_agrees_with_the_security_policy(request_, dbsession, town, state, who):
    node = new(request_, town)
    if state != "private":
        content.set_state(request_, node, state, "test")
    assert finds(request_, node, who) == can_view(request_, node, who)


# --- local roles --------------------------------------------------------------------------------

def test_local_roles_on_a_parent_are_inherited(request_, dbsession, town):
    as_user(request_, dbsession, "manager")
    folder = new(request_, town, "Folder", title="栏目")
    inner = new(request_, folder, "Folder", title="子栏目")
    node = new(request_, inner)
    set_roles(request_, folder, {"user:other-editor": {"Reader": True}, "group:reviewers": {"Contributor": True}})
    allowed = allowed_principals(dbsession, node)
    assert {"user:other-editor", "group:reviewers", "user:editor", "user:manager"} <= set(allowed)
    assert can_view(request_, node, "other-editor")


def test_local_roles_stop_where_inheritance_is_blocked(request_, dbsession, town):
    as_user(request_, dbsession, "manager")
    folder = new(request_, town, "Folder", title="栏目")
    inner = new(request_, folder, "Folder", title="子栏目")
    node = new(request_, inner)
    set_roles(request_, folder, {"user:other-editor": {"Reader": True}})
    set_roles(request_, inner, {"user:reviewer": {"Reader": True}}, inherit=False)
    allowed = set(allowed_principals(dbsession, node))
    assert "user:reviewer" in allowed  # granted on the blocking node itself
    assert "user:other-editor" not in allowed and "user:editor" not in allowed  # granted above it
    assert "user:manager" in allowed  # the owner
    assert not can_view(request_, node, "editor") and not can_view(request_, node, "other-editor")


def test_a_local_reader_keeps_finding_a_published_item_outside_its_dates(request_, dbsession, town):
    node = new(request_, town, expires=dt.datetime(2020, 1, 1))
    set_roles(request_, node, {"user:other-editor": {"Reader": True}})
    content.set_state(request_, node, "published", "publish")
    assert "user:other-editor" in allowed_principals(dbsession, node)


def test_local_roles_of_other_branches_do_not_count(request_, dbsession, town):
    node = new(request_, town)
    dbsession.add(LocalRole(node_id=unit(dbsession, "孔垄镇").id, principal="user:reviewer", role="Reader"))
    dbsession.flush()
    assert "user:reviewer" not in allowed_principals(dbsession, node)


# --- which nodes are indexed --------------------------------------------------------------------

def test_containers_are_not_indexable(request_, dbsession, town):
    root = dbsession.scalar(select(Portal))
    folder = new(request_, town, "Folder", title="栏目")
    assert not indexable(root) and not indexable(town) and not indexable(folder)
    assert set(NOT_INDEXED) == {"Portal", "Unit", "Folder"}
    for type_name in ("Page", "News", "Disclosure", "File", "Image"):
        assert indexable(new(request_, folder, type_name, title=type_name))


def test_all_documents_holds_no_containers(request_, dbsession, town):
    folder = new(request_, town, "Folder", title="栏目")
    page = new(request_, folder)
    docs = {d["id"]: d for d in all_documents(dbsession)}
    assert str(page.id) in docs and str(folder.id) not in docs and str(town.id) not in docs
    assert {d["type"] for d in docs.values()} & {"Portal", "Unit", "Folder"} == set()
    assert count_documents(dbsession) == len(docs)


def test_all_documents_equals_one_document_per_node(request_, dbsession, town):
    """The rebuild's prefetched parents and local roles give what a per-node lookup gives."""
    as_user(request_, dbsession, "manager")
    folder = new(request_, town, "Folder", title="栏目")
    inner = new(request_, folder, "Folder", title="子栏目")
    items = [new(request_, inner), new(request_, folder, "News", title="新闻"), new(request_, town, "Disclosure")]
    set_roles(request_, folder, {"user:other-editor": {"Reader": True}, "group:reviewers": {"Contributor": True}})
    set_roles(request_, inner, {"user:reviewer": {"Reader": True}}, inherit=False)
    content.set_state(request_, items[1], "published", "publish")
    bulk = {d["id"]: d for d in all_documents(dbsession)}
    nodes = dbsession.scalars(select(Node).where(Node.type.notin_(NOT_INDEXED))).all()
    assert bulk == {str(n.id): document(dbsession, n) for n in nodes if indexable(n)}
    assert {str(n.id) for n in items} <= set(bulk)


# --- the document -------------------------------------------------------------------------------

def test_document_of_a_disclosure(request_, dbsession, town):
    node = new(request_, town, "Disclosure", title="关于春耕的通知", description="春耕摘要",
               summary="内容概述：春耕备耕", body="<h2>一、总则</h2><p>做好<b>春耕</b>工作。</p>",
               doc_number="梅政办发〔2024〕1号", subject="农业、林业、水利", genre="通知",
               keywords="春耕，备耕,农业 生产")
    doc = document(dbsession, node)
    assert doc["id"] == str(node.id) and doc["path"] == node.path
    assert (doc["title"], doc["description"], doc["type"], doc["state"]) == ("关于春耕的通知", "春耕摘要",
                                                                          "Disclosure", "private")
    assert (doc["unit"], doc["unit_title"]) == ("黄梅镇", "黄梅县黄梅镇人民政府")
    assert (doc["subject"], doc["genre"], doc["doc_number"]) == ("农业、林业、水利", "通知", "梅政办发〔2024〕1号")
    assert doc["index_number"] == node.index_number and doc["index_number"].startswith("421127-001/")
    assert doc["keywords"] == ["春耕", "备耕", "农业", "生产"]
    assert "内容概述：春耕备耕" in doc["text"] and "做好春耕工作。" in doc["text"]
    assert "<" not in doc["text"]
    assert doc["modified"].tzinfo is dt.timezone.utc and doc["published"] is None
    assert doc["year"] == str(node.created.year)


def test_document_dates_are_aware_utc_and_year_follows_publication(request_, dbsession, town):
    node = new(request_, town)
    content.set_state(request_, node, "published", "publish")
    node.published = dt.datetime(2019, 6, 1, 12, 0)
    doc = document(dbsession, node)
    assert doc["published"] == dt.datetime(2019, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
    assert doc["year"] == "2019"


def test_document_year_is_the_year_in_china(request_, dbsession, town):
    node = new(request_, town)
    content.set_state(request_, node, "published", "publish")
    node.published = dt.datetime(2023, 12, 31, 17, 0)  # 2024-01-01 01:00 in Beijing
    assert document(dbsession, node)["year"] == "2024"


def test_unit_of_an_item_in_a_sub_unit_is_the_nearest_unit(request_, dbsession):
    service = unit(dbsession, "黄梅镇便民服务中心")
    assert service.parent.title == "黄梅镇"
    doc = document(dbsession, new(request_, service))
    assert (doc["unit"], doc["unit_title"]) == ("黄梅镇便民服务中心", "黄梅县黄梅镇便民服务中心")


@pytest.mark.parametrize("type_name, field, value", [
    ("Disclosure", "attachments", [{"filename": "春耕方案.pdf", "hash": "a"}, {"filename": "附件二.xlsx",
                                                                              "hash": "b"}]),
    ("File", "file", {"filename": "黄梅县年度报告.pdf", "hash": "c"}),
    ("Image", "image", {"filename": "五祖寺全景.jpg", "hash": "d"}),
    ("News", "lead_image", {"filename": "会议现场.png", "hash": "e"}),
])
def test_file_names_are_in_the_text(request_, dbsession, town, type_name, field, value):
    node = new(request_, town, type_name)
    setattr(node, field, value)
    text = document(dbsession, node)["text"]
    for ref in value if isinstance(value, list) else [value]:
        assert ref["filename"] in text


def test_document_of_a_page_has_no_catalogue_fields(request_, dbsession, town):
    doc = document(dbsession, new(request_, town, body="<p>正文</p>"))
    assert not {"subject", "genre", "doc_number", "index_number", "keywords"} & set(doc)
    assert doc["text"] == "正文"


def test_documents_are_accepted_by_the_backend(request_, dbsession, town, tmp_path):
    from search import SearchQuery, WhooshBackend

    node = new(request_, town, "Disclosure", title="后端接受", body="<p>专网</p>", keywords="甲,乙")
    backend = WhooshBackend(tmp_path / "ix")
    assert backend.index([document(dbsession, node)]) == 1
    hits = backend.query(SearchQuery(text="后端接受", principals=["user:editor"])).hits
    assert [h.id for h in hits] == [str(node.id)]
    assert backend.query(SearchQuery(text="后端接受", principals=[Everyone])).total == 0
