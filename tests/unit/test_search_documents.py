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
from sqlalchemy import select

from portal import content
from portal.models import Node, Portal
from portal.registry import searchable_types
from portal.sharing import set_roles
from portal.visibility import viewers
from search.documents import document, indexable
from search.indexer import all_documents, count_documents
from tests.conftest import unit
from tests.unit.test_visibility import as_user, new


@pytest.fixture
def request_(request_as: Any) -> Any:
    """A request acting as the editor of 黄梅镇."""
    return request_as("editor")


def test_the_effective_window_is_not_in_allowed(request_, dbsession, town):
    """Time passing needs no reindex: the window goes into the document's dates, not into `allowed`."""
    dated = new(request_, town, effective=dt.datetime(2099, 1, 1), expires=dt.datetime(2100, 1, 1))
    plain = new(request_, town, title="不限时")
    for node in (dated, plain):
        content.set_state(request_, node, "published", "publish")
    assert viewers(dbsession, dated) == viewers(dbsession, plain)
    doc = document(request_.registry, dbsession, dated)
    assert doc["allowed"] == viewers(dbsession, dated)
    assert doc["effective"] == dt.datetime(2099, 1, 1, tzinfo=dt.timezone.utc)
    assert doc["expires"] == dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc)


# --- which nodes are indexed --------------------------------------------------------------------

def test_containers_are_not_indexable(request_, dbsession, town):
    root = dbsession.scalar(select(Portal))
    folder = new(request_, town, "Folder", title="栏目")
    assert not any(indexable(request_.registry, n) for n in (root, town, folder))
    assert set(searchable_types(request_.registry)).isdisjoint({"Portal", "Unit", "Folder"})
    for type_name in ("Page", "News", "Disclosure", "File", "Image"):
        assert indexable(request_.registry, new(request_, folder, type_name, title=type_name))


def test_all_documents_holds_no_containers(request_, dbsession, town):
    folder = new(request_, town, "Folder", title="栏目")
    page = new(request_, folder)
    docs = {d["id"]: d for d in all_documents(request_.registry, dbsession)}
    assert str(page.id) in docs and str(folder.id) not in docs and str(town.id) not in docs
    assert {d["type"] for d in docs.values()} & {"Portal", "Unit", "Folder"} == set()
    assert count_documents(request_.registry, dbsession) == len(docs)


def test_all_documents_equals_one_document_per_node(request_, dbsession, town):
    """The rebuild's prefetched parents and local roles give what a per-node lookup gives."""
    as_user(request_, dbsession, "manager")
    folder = new(request_, town, "Folder", title="栏目")
    inner = new(request_, folder, "Folder", title="子栏目")
    items = [new(request_, inner), new(request_, folder, "News", title="新闻"), new(request_, town, "Disclosure")]
    set_roles(request_, folder, {"user:other-editor": {"Reader": True}, "group:reviewers": {"Contributor": True}})
    set_roles(request_, inner, {"user:reviewer": {"Reader": True}}, inherit=False)
    content.set_state(request_, items[1], "published", "publish")
    bulk = {d["id"]: d for d in all_documents(request_.registry, dbsession)}
    nodes = dbsession.scalars(select(Node).where(Node.type.in_(searchable_types(request_.registry)))).all()
    assert bulk == {str(n.id): document(request_.registry, dbsession, n) for n in nodes if indexable(request_.registry, n)}
    assert {str(n.id) for n in items} <= set(bulk)


# --- the document -------------------------------------------------------------------------------

def test_document_of_a_disclosure(request_, dbsession, town):
    node = new(request_, town, "Disclosure", title="关于春耕的通知", description="春耕摘要",
               summary="内容概述：春耕备耕", body="<h2>一、总则</h2><p>做好<b>春耕</b>工作。</p>",
               doc_number="梅政办发〔2024〕1号", subject="农业、林业、水利", genre="通知",
               keywords="春耕，备耕,农业 生产")
    doc = document(request_.registry, dbsession, node)
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
    doc = document(request_.registry, dbsession, node)
    assert doc["published"] == dt.datetime(2019, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
    assert doc["year"] == "2019"


def test_document_year_is_the_year_in_china(request_, dbsession, town):
    node = new(request_, town)
    content.set_state(request_, node, "published", "publish")
    node.published = dt.datetime(2023, 12, 31, 17, 0)  # 2024-01-01 01:00 in Beijing
    assert document(request_.registry, dbsession, node)["year"] == "2024"


def test_unit_of_an_item_in_a_sub_unit_is_the_nearest_unit(request_, dbsession):
    service = unit(dbsession, "黄梅镇便民服务中心")
    assert service.parent.title == "黄梅镇"
    doc = document(request_.registry, dbsession, new(request_, service))
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
    text = document(request_.registry, dbsession, node)["text"]
    for ref in value if isinstance(value, list) else [value]:
        assert ref["filename"] in text


def test_document_of_a_page_has_no_catalogue_fields(request_, dbsession, town):
    doc = document(request_.registry, dbsession, new(request_, town, body="<p>正文</p>"))
    assert not {"subject", "genre", "doc_number", "index_number", "keywords"} & set(doc)
    assert doc["text"] == "正文"


def test_documents_are_accepted_by_the_backend(request_, dbsession, town, tmp_path):
    from search import SearchQuery, WhooshBackend

    node = new(request_, town, "Disclosure", title="后端接受", body="<p>专网</p>", keywords="甲,乙")
    backend = WhooshBackend(tmp_path / "ix")
    assert backend.index([document(request_.registry, dbsession, node)]) == 1
    hits = backend.query(SearchQuery(text="后端接受", principals=["user:editor"])).hits
    assert [h.id for h in hits] == [str(node.id)]
    assert backend.query(SearchQuery(text="后端接受", principals=[Everyone])).total == 0
