"""Datasets and resources through the real app: the issue's fields, the workflow, the dataset page
with its preview and download counts, 有条件开放, the refused disguised ZIP, the listing and search."""
from __future__ import annotations

import base64
import io
import zipfile
from typing import Any

import lxml.html
import pytest
import webtest
from sqlalchemy import select

from catalog.dataset import Dataset
from catalog.resource import Resource
from portal import content
from portal.models import Node
from tests.conftest import api_token, login
from tests.functional.test_search import backend, index_now  # noqa: F401  (fixture)

JSON = {"Accept": "application/json"}
HOST = "http://example.com"
GBK_CSV = "乡镇,户籍人口\r\n黄梅镇,123456\r\n孔垄镇,98765\r\n".encode("gbk")


def b64file(name: str, data: bytes) -> dict[str, str]:
    return {"data": base64.b64encode(data).decode(), "encoding": "base64", "filename": name,
            "content-type": "text/csv"}


def path_of(item: dict[str, Any]) -> str:
    return item["@id"].removeprefix(HOST).rstrip("/") + "/"


@pytest.fixture
def tokens(testapp, users) -> dict[str, dict[str, str]]:
    return {who: {**JSON, "Authorization": api_token(testapp, who)["Authorization"]}
            for who in ("editor", "reviewer", "other-editor")}


def add(testapp, headers, where: str, type_name: str, status: int = 201, **fields: Any) -> Any:
    return testapp.post_json(where, {"@type": type_name, **fields}, headers=headers, status=status).json


def publish(testapp, tokens, item: dict[str, Any]) -> None:
    testapp.post_json(path_of(item) + "@workflow/submit", {}, headers=tokens["editor"])
    testapp.post_json(path_of(item) + "@workflow/publish", {}, headers=tokens["reviewer"])


DATASET = {"title": "黄梅县各乡镇人口", "description": "2024年末各乡镇户籍人口和常住人口", "theme": "人口",
           "keywords": ["人口", "乡镇 统计"], "license": "cc-by", "open_class": "无条件开放",
           "update_frequency": "每年", "temporal_start": "2024-01-01", "temporal_end": "2024-12-31",
           "contact_name": "王科长", "contact_phone": "0713-3321234", "contact_email": "tjj@example.gov.cn"}


def test_a_dataset_has_the_fields_of_the_issue(testapp, tokens, town):
    made = add(testapp, tokens["editor"], town.path, "Dataset", **DATASET)
    for name, value in DATASET.items():
        assert made[name] == value, name
    assert made["spatial"] == "黄梅县"  # the default
    assert made["review_state"] == "private" if "review_state" in made else True
    again = testapp.get(path_of(made), headers=tokens["editor"]).json
    assert again["keywords"] == ["人口", "乡镇 统计"]


@pytest.mark.parametrize("field,value", [("theme", "体育"), ("license", "cc-by-4.0"), ("open_class", "半开放"),
                                         ("update_frequency", "每小时"), ("keywords", ["人"]),
                                         ("keywords", ["a/b"]), ("contact_email", "not-mail"),
                                         ("contact_email", "wang..ke@huangmei.gov.cn"),
                                         ("temporal_end", "2023-01-01")])
def test_bad_metadata_is_refused_with_its_field(testapp, tokens, town, dbsession, field, value):
    res = add(testapp, tokens["editor"], town.path, "Dataset", status=400, **{**DATASET, field: value})
    assert field in str(res)
    assert dbsession.scalar(select(Dataset.id).where(Node.title == DATASET["title"])) is None


def test_resources_only_in_datasets_and_datasets_in_units_and_columns(testapp, tokens, town):
    add(testapp, tokens["editor"], town.path, "Resource", status=400, title="x", url="https://example.org/a.csv")
    dataset = add(testapp, tokens["editor"], town.path, "Dataset", **DATASET)
    add(testapp, tokens["editor"], path_of(dataset), "Dataset", status=400, **DATASET)
    column = add(testapp, tokens["editor"], town.path, "Folder", title="开放数据", column_kind="其他")
    add(testapp, tokens["editor"], path_of(column), "Dataset", **DATASET)


def test_format_and_size_are_detected_not_typed(testapp, tokens, town):
    dataset = add(testapp, tokens["editor"], town.path, "Dataset", **DATASET)
    where = path_of(dataset)
    csv_res = add(testapp, tokens["editor"], where, "Resource", file=b64file("人口.csv", GBK_CSV),
                  format="PDF", size=1)
    assert (csv_res["title"], csv_res["format"], csv_res["size"]) == ("人口.csv", "CSV", len(GBK_CSV))
    link = add(testapp, tokens["editor"], where, "Resource", title="国家数据", url="https://data.example.org/gdp.XLSX?x=1")
    assert (link["format"], link["size"]) == ("XLSX", None)
    add(testapp, tokens["editor"], where, "Resource", status=400, title="两者", url="https://data.example.org/a.csv",
        file=b64file("a.csv", GBK_CSV))
    add(testapp, tokens["editor"], where, "Resource", status=400, title="都没有")
    add(testapp, tokens["editor"], where, "Resource", status=400, title="坏链接", url="javascript:alert(1)")
    # a link replacing the file: the format follows
    changed = testapp.patch_json(path_of(csv_res), {"url": "https://data.example.org/p.json"},
                                 headers={**tokens["editor"], "Prefer": "return=representation"}).json
    assert (changed["format"], changed["size"], changed["file"]) == ("JSON", None, None)


def test_a_csv_holding_a_zip_is_refused_with_a_message(testapp, tokens, town):
    dataset = add(testapp, tokens["editor"], town.path, "Dataset", **DATASET)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("data.csv", "a,b\n1,2\n")
    res = add(testapp, tokens["editor"], path_of(dataset), "Resource", status=400,
              file=b64file("data.csv", buf.getvalue()))
    assert "文件内容与扩展名 .csv 不符" in str(res)
    login(testapp, "editor")
    form = testapp.get(path_of(dataset) + "@@add?type=Resource").forms["content-form"]
    form["upload"] = webtest.Upload("伪装.csv", buf.getvalue(), "text/csv")
    page = form.submit("save", status=200)
    assert "文件内容与扩展名 .csv 不符" in page.text


def published_dataset(testapp, tokens, town, **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    dataset = add(testapp, tokens["editor"], town.path, "Dataset", **{**DATASET, **fields})
    resource = add(testapp, tokens["editor"], path_of(dataset), "Resource", title="人口表",
                   file=b64file("people.csv", GBK_CSV))
    publish(testapp, tokens, dataset)
    publish(testapp, tokens, resource)
    return dataset, resource


def test_nothing_is_public_until_published(testapp, tokens, town):
    dataset = add(testapp, tokens["editor"], town.path, "Dataset", **DATASET)
    resource = add(testapp, tokens["editor"], path_of(dataset), "Resource", file=b64file("p.csv", GBK_CSV))
    testapp.get(path_of(dataset), status=404)
    testapp.get(path_of(resource) + "@@download/file", status=404)
    assert DATASET["title"] not in testapp.get("/@@datasets").text
    publish(testapp, tokens, dataset)
    page = testapp.get(path_of(dataset))
    assert "p.csv" not in page.text  # the resource is still private
    assert DATASET["title"] in testapp.get("/@@datasets").text


def test_the_dataset_page_shows_metadata_resources_and_a_preview(testapp, tokens, town, dbsession):
    dataset, resource = published_dataset(testapp, tokens, town)
    page = testapp.get(path_of(dataset))
    text = page.text
    for shown in ("黄梅县各乡镇人口", "人口", "无条件开放", "知识共享署名 4.0", "每年", "黄梅县", "王科长",
                  "0713-3321234", "tjj@example.gov.cn", "人口表", "CSV", "2024-01-01", "2024-12-31"):
        assert shown in text, shown
    assert "<td>黄梅镇</td>" in text and "<td>123456</td>" in text  # the preview, decoded from GBK
    assert "GBK" in text
    node = dbsession.get(Dataset, dataset_id(dbsession, dataset))
    assert node.issued is not None and node.issued == node.published
    # the resource's own page shows it too
    assert "<td>孔垄镇</td>" in testapp.get(path_of(resource)).text


def dataset_id(dbsession, item: dict[str, Any]) -> int:
    return dbsession.scalar(select(Node.id).where(Node.path == path_of(item)))


def test_downloads_are_counted_after_the_response(testapp, tokens, town, dbsession):
    _dataset, resource = published_dataset(testapp, tokens, town)
    url = path_of(resource) + "@@download/file"
    assert testapp.get(url).body == GBK_CSV
    testapp.get(url, headers={"Range": "bytes=0-3"}, status=206)  # the start of a download: counted
    testapp.get(url, headers={"Range": "bytes=4-"}, status=206)  # a resumed one: not counted again
    rid = dataset_id(dbsession, resource)
    dbsession.expire_all()
    assert dbsession.get(Resource, rid).downloads == 2
    assert ">2</td>" in testapp.get(path_of(_dataset)).text


def test_conditionally_open_files_go_to_staff_only(testapp, tokens, town, dbsession):
    dataset, resource = published_dataset(testapp, tokens, town, open_class="有条件开放", contact_name="",
                                          contact_phone="", contact_email="")
    url = path_of(resource) + "@@download/file"
    page = testapp.get(path_of(dataset))
    assert "人口表" in page.text and "有条件开放" in page.text  # metadata and resource list are public
    assert "<td>黄梅镇</td>" not in page.text  # the preview is the data: not for the public
    unit_contact = town.full_name or town.title
    assert "申请" in page.text and unit_contact in page.text  # whom to apply to: the unit, as it has no contact
    res = testapp.get(url, status=302)
    assert "/@@login" in res.location
    testapp.get(url, headers={"Authorization": tokens["other-editor"]["Authorization"]}, status=200)
    login(testapp, "other-editor")  # staff of another unit: logged in is enough
    assert testapp.get(url).body == GBK_CSV
    assert "<td>黄梅镇</td>" in testapp.get(path_of(dataset)).text
    dbsession.expire_all()
    assert dbsession.get(Resource, dataset_id(dbsession, resource)).downloads == 2


def make_published(request, container, n: int, **fields: Any) -> Node:
    node = content.create(request, container, "Dataset", {**{k: v for k, v in DATASET.items()
                                                             if k not in ("temporal_start", "temporal_end")},
                                                          "title": f"数据集{n:02d}", **fields}, unrestricted=True)
    content.set_state(request, node, "published", "publish")
    return node


def listed_titles(res: webtest.TestResponse) -> list[str]:
    """The titles in the catalogue's table (a row per dataset)."""
    doc = lxml.html.fromstring(res.text)
    return [a.text_content() for a in doc.xpath('//table[contains(@class, "datasets")]/tbody/tr/td[1]/a')]


@pytest.mark.usefixtures("no_disclosure_export")  # it counts datasets
def test_listing_facets_paging_and_units(testapp, tokens, town, other_town, request_as, dbsession):
    request = request_as("manager")
    for n in range(23):
        make_published(request, town, n, theme="人口" if n % 2 else "法人")
    for n in range(23, 26):
        make_published(request, other_town, n, theme="教育", open_class="有条件开放")
    draft = content.create(request, town, "Dataset", {**DATASET, "title": "草稿数据集"}, unrestricted=True)
    first = content.create(request, dbsession.scalar(select(Dataset).where(Node.title == "数据集01")), "Resource",
                           {"title": "表", "url": "https://example.org/t.xlsx"}, unrestricted=True)
    content.set_state(request, first, "published", "publish")
    dbsession.flush()

    page1 = testapp.get("/@@datasets")
    assert "共 26 个数据集" in page1.text and "草稿数据集" not in page1.text
    assert len(listed_titles(page1)) == 20
    page2 = testapp.get("/@@datasets", {"page": 2})
    assert len(listed_titles(page2)) == 6
    # newest change first
    assert page1.text.index("数据集25") < page1.text.index("数据集10") and "数据集00" in page2.text
    assert testapp.get("/@@datasets", {"theme": "教育"}).text.count("数据集2") == 3
    only_class = testapp.get("/@@datasets", {"open_class": "有条件开放"}).text
    assert "数据集25" in only_class and "数据集00" not in only_class
    by_format = testapp.get("/@@datasets", {"format": "xlsx"}).text
    assert "数据集01" in by_format and "数据集02" not in by_format
    assert "XLSX" in page1.text  # the format facet
    by_unit = testapp.get("/@@datasets", {"unit": other_town.title}).text
    assert "数据集24" in by_unit and "数据集01" not in by_unit
    unit_page = testapp.get(f"{other_town.path}@@datasets").text
    assert "数据集24" in unit_page and "数据集01" not in unit_page
    assert draft.state == "private"


def test_search_finds_a_published_dataset_and_not_a_private_one(testapp, app, tokens, town, dbsession, backend):
    dataset, _resource = published_dataset(testapp, tokens, town, title="黄梅县法人单位名录", keywords=["企业名录"])
    add(testapp, tokens["editor"], town.path, "Dataset", **{**DATASET, "title": "黄梅县法人草稿"})
    index_now(app.registry, dbsession, backend)

    def titles(text: str) -> list[str]:
        return [i["title"] for i in testapp.get("/@search", {"SearchableText": text}, headers=JSON).json["items"]]

    assert titles("黄梅县法人") == ["黄梅县法人单位名录"]  # the draft is not found by the public
    assert titles("企业名录") == ["黄梅县法人单位名录"]  # by keyword
    page = testapp.get("/@@search", {"q": "企业名录"}).text
    assert path_of(dataset) in page
    reviewer = [i["title"] for i in testapp.get("/@search", {"SearchableText": "黄梅县法人"},
                                                headers=tokens["reviewer"]).json["items"]]
    assert sorted(reviewer) == ["黄梅县法人单位名录", "黄梅县法人草稿"]


def test_a_dataset_is_added_and_edited_through_the_form(testapp, town, dbsession, users):
    login(testapp, "editor")
    form = testapp.get(f"{town.path}@@add?type=Dataset").forms["content-form"]
    assert form["spatial"].value == "黄梅县" or form["spatial"].value == ""
    form["title"] = "农业产值"
    form["theme"] = "农业农村"
    form["keywords"] = "农业，产值、 2024年"
    form["license"] = "odc-odbl"
    form["update_frequency"] = "每季度"
    form.submit("save", status=302)
    node = dbsession.scalar(select(Dataset).where(Node.title == "农业产值"))
    assert (node.keywords, node.license, node.spatial, node.open_class) == (["农业", "产值", "2024年"], "odc-odbl",
                                                                             "黄梅县", "无条件开放")
    edit_form = testapp.get(f"{node.path}@@edit").forms["content-form"]
    assert edit_form["keywords"].value == "农业，产值，2024年"
    add_res = testapp.get(f"{node.path}@@add?type=Resource").forms["content-form"]
    add_res["url"] = "https://data.example.org/agri.csv"
    add_res.submit("save", status=302)
    dbsession.expire_all()
    (res,) = [c for c in node.values() if isinstance(c, Resource)]
    assert (res.title, res.format, res.url) == ("agri.csv", "CSV", "https://data.example.org/agri.csv")


def test_with_republishing_off_the_state_is_off_and_only_editors_see_it(testapp, tokens, town, dbsession):
    from catalog.ckan_outbox import CkanOutbox

    dataset, _resource = published_dataset(testapp, tokens, town)
    as_editor = testapp.get(path_of(dataset), headers=tokens["editor"]).json
    assert as_editor["ckan"] == {"state": "off", "id": None, "name": None, "url": None, "error": None,
                                 "synced_at": None}
    assert testapp.get(path_of(dataset), headers=JSON).json["ckan"]["state"] == "off"
    assert dbsession.scalar(select(CkanOutbox.id).limit(1)) is None  # nothing queued when off
    assert "ckan-off" not in testapp.get(path_of(dataset)).text  # the public page has no editors' box
    login(testapp, "editor")
    assert "ckan-off" in testapp.get(path_of(dataset)).text
