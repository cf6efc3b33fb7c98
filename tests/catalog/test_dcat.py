"""DCAT through the real app: every format of the catalogue and of a dataset parsed back with
rdflib and checked triple by triple, only what the public listing shows, hydra paging past 1,000
datasets, and the pages' `<link rel="alternate">`."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib import namespace as ns
from rdflib.namespace import DCTERMS, FOAF, RDF, SKOS
from sqlalchemy import insert, select

from catalog import dcat
from catalog.dataset import Dataset
from catalog.dcat import HYDRA, LOCN, VCARD
from portal import content
from portal.models import Node
from tests.catalog.test_datasets import DATASET, GBK_CSV, HOST, add, b64file, path_of, publish, tokens  # noqa: F401

pytestmark = pytest.mark.usefixtures("no_disclosure_export")  # the tests count datasets

EU = "http://publications.europa.eu/resource/authority/"
MIMES = {"jsonld": "application/ld+json", "ttl": "text/turtle", "rdf": "application/rdf+xml"}
PARSERS = {"jsonld": "json-ld", "ttl": "turtle", "rdf": "xml"}


def fetch(testapp, url: str, ext: str) -> Graph:
    res = testapp.get(url)
    assert res.content_type == MIMES[ext]
    return Graph().parse(data=res.body, format=PARSERS[ext])


def zh(value: str) -> Literal:
    return Literal(value, lang="zh")


def one(g: Graph, s: Any, p: Any) -> Any:
    values = list(g.objects(s, p))
    assert len(values) == 1, (s, p, values)
    return values[0]


@pytest.fixture
def published(testapp, tokens, town, dbsession) -> dict[str, Any]:  # noqa: F811
    """An open dataset with a file and a link, a conditionally open one with a file and no contact
    of its own, a private resource in the open one and a draft dataset."""
    open_ds = add(testapp, tokens["editor"], town.path, "Dataset", **DATASET)
    file_res = add(testapp, tokens["editor"], path_of(open_ds), "Resource", title="人口表",
                   description="GBK 编码", file=b64file("people.csv", GBK_CSV))
    link_res = add(testapp, tokens["editor"], path_of(open_ds), "Resource", title="国家数据",
                   url="https://data.example.org/gdp.xlsx")
    private_res = add(testapp, tokens["editor"], path_of(open_ds), "Resource", title="未发布的表",
                      url="https://data.example.org/secret.csv")
    cond_ds = add(testapp, tokens["editor"], town.path, "Dataset",
                  **{**DATASET, "title": "法人单位名录", "theme": "其他", "open_class": "有条件开放",
                     "license": "other-open", "update_frequency": "实时", "keywords": [],
                     "temporal_start": None, "temporal_end": None, "contact_name": "", "contact_phone": "",
                     "contact_email": ""})
    cond_file = add(testapp, tokens["editor"], path_of(cond_ds), "Resource", title="名录",
                    file=b64file("firms.csv", GBK_CSV))
    draft = add(testapp, tokens["editor"], town.path, "Dataset", **{**DATASET, "title": "草稿数据集"})
    for item in (open_ds, file_res, link_res, cond_ds, cond_file):
        publish(testapp, tokens, item)
    return {k: HOST + path_of(item) for k, item in {
        "open": open_ds, "file": file_res, "link": link_res, "private": private_res, "cond": cond_ds,
        "cond_file": cond_file, "draft": draft}.items()}


def check_open_dataset(g: Graph, urls: dict[str, str], town: Any) -> None:
    """Every property of the mapping, for the open dataset."""
    s = URIRef(urls["open"])
    assert (s, RDF.type, ns.DCAT.Dataset) in g
    assert one(g, s, DCTERMS.title) == zh(DATASET["title"])
    assert one(g, s, DCTERMS.description) == zh(DATASET["description"])
    assert set(g.objects(s, ns.DCAT.keyword)) == {zh("人口"), zh("乡镇 统计")}
    assert one(g, s, ns.DCAT.landingPage) == s
    own_theme = URIRef(HOST + "/@@datasets?theme=%E4%BA%BA%E5%8F%A3")
    assert set(g.objects(s, ns.DCAT.theme)) == {own_theme, URIRef(EU + "data-theme/SOCI")}
    assert one(g, own_theme, SKOS.prefLabel) == zh("人口")
    publisher = one(g, s, DCTERMS.publisher)
    assert publisher == URIRef(HOST + town.path)
    assert (publisher, RDF.type, FOAF.Organization) in g
    assert one(g, publisher, FOAF.name) == zh(town.full_name or town.title)
    cp = one(g, s, ns.DCAT.contactPoint)
    assert (cp, RDF.type, VCARD.Kind) in g
    assert one(g, cp, VCARD.fn) == Literal("王科长")
    assert one(g, cp, VCARD.hasEmail) == URIRef("mailto:tjj@example.gov.cn")
    assert one(g, cp, VCARD.hasTelephone) == URIRef("tel:0713-3321234")
    issued, modified = one(g, s, DCTERMS.issued), one(g, s, DCTERMS.modified)
    assert issued.datatype == modified.datatype == ns.XSD.dateTime
    assert issued.toPython().tzinfo is not None and modified.toPython() >= issued.toPython()
    assert abs(issued.toPython() - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=5)
    assert one(g, s, DCTERMS.accrualPeriodicity) == URIRef(EU + "frequency/ANNUAL")
    period = one(g, s, DCTERMS.temporal)
    assert (period, RDF.type, DCTERMS.PeriodOfTime) in g
    assert one(g, period, ns.DCAT.startDate) == Literal(dt.date(2024, 1, 1), datatype=ns.XSD.date)
    assert one(g, period, ns.DCAT.endDate) == Literal(dt.date(2024, 12, 31), datatype=ns.XSD.date)
    place = one(g, s, DCTERMS.spatial)
    assert (place, RDF.type, DCTERMS.Location) in g
    assert one(g, place, SKOS.prefLabel) == zh("黄梅县") == one(g, place, LOCN.geographicName)
    licence = URIRef("https://creativecommons.org/licenses/by/4.0/")
    assert one(g, s, DCTERMS.license) == licence
    assert (licence, RDF.type, DCTERMS.LicenseDocument) in g
    assert one(g, s, DCTERMS.accessRights) == URIRef(EU + "access-right/PUBLIC")

    file_d, link_d = URIRef(urls["file"]), URIRef(urls["link"])
    assert set(g.objects(s, ns.DCAT.distribution)) == {file_d, link_d}  # not the private resource
    assert (URIRef(urls["private"]), None, None) not in g
    assert (file_d, RDF.type, ns.DCAT.Distribution) in g and (link_d, RDF.type, ns.DCAT.Distribution) in g
    assert one(g, file_d, DCTERMS.title) == zh("人口表")
    assert one(g, file_d, DCTERMS.description) == zh("GBK 编码")
    assert one(g, file_d, ns.DCAT.downloadURL) == URIRef(urls["file"] + "@@download/file")
    assert one(g, file_d, ns.DCAT.accessURL) == file_d
    assert one(g, file_d, DCTERMS.format) == Literal("CSV")
    assert one(g, file_d, ns.DCAT.mediaType) == Literal("text/csv")
    size = one(g, file_d, ns.DCAT.byteSize)
    assert size.datatype == ns.XSD.nonNegativeInteger and size.toPython() == len(GBK_CSV)
    assert one(g, file_d, DCTERMS.license) == licence
    assert one(g, link_d, DCTERMS.title) == zh("国家数据")
    assert one(g, link_d, ns.DCAT.downloadURL) == URIRef("https://data.example.org/gdp.xlsx")
    assert one(g, link_d, ns.DCAT.accessURL) == URIRef("https://data.example.org/gdp.xlsx")
    assert one(g, link_d, DCTERMS.format) == Literal("XLSX")
    assert one(g, link_d, ns.DCAT.mediaType) == Literal(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert list(g.objects(link_d, ns.DCAT.byteSize)) == []  # a link's size is not known


def check_conditional_dataset(g: Graph, urls: dict[str, str], town: Any) -> None:
    s = URIRef(urls["cond"])
    assert one(g, s, DCTERMS.accessRights) == URIRef(EU + "access-right/RESTRICTED")
    assert one(g, s, DCTERMS.accrualPeriodicity) == URIRef(EU + "frequency/CONT")
    # 其他: no EU theme, only the portal's own
    assert list(g.objects(s, ns.DCAT.theme)) == [URIRef(HOST + "/@@datasets?theme=%E5%85%B6%E4%BB%96")]
    assert list(g.objects(s, DCTERMS.temporal)) == [] and list(g.objects(s, ns.DCAT.keyword)) == []
    # no contact of its own: the unit's, whom the page says to apply to
    cp = one(g, s, ns.DCAT.contactPoint)
    assert one(g, cp, VCARD.fn) == Literal(town.full_name or town.title)
    assert list(g.objects(cp, VCARD.hasEmail)) == []
    # a licence without a URL: a described node
    licence = one(g, s, DCTERMS.license)
    assert (licence, RDF.type, DCTERMS.LicenseDocument) in g
    assert one(g, licence, DCTERMS.identifier) == Literal("other-open")
    # the file is for staff only: no download URL, its page (which says whom to apply to) instead
    d = URIRef(urls["cond_file"])
    assert one(g, s, ns.DCAT.distribution) == d
    assert list(g.objects(d, ns.DCAT.downloadURL)) == []
    assert one(g, d, ns.DCAT.accessURL) == d


@pytest.mark.parametrize("ext", ["jsonld", "ttl", "rdf"])
def test_a_dataset_in_every_format(testapp, published, town, ext):
    g = fetch(testapp, published["open"] + f"dcat.{ext}", ext)
    check_open_dataset(g, published, town)
    assert (URIRef(published["cond"]), None, None) not in g  # one dataset only
    check_conditional_dataset(fetch(testapp, published["cond"] + f"dcat.{ext}", ext), published, town)


@pytest.mark.parametrize("ext", ["jsonld", "ttl", "rdf"])
def test_the_catalogue_in_every_format(testapp, published, town, ext):
    g = fetch(testapp, f"/catalog.{ext}", ext)
    catalog = URIRef(HOST + "/@@datasets")
    assert (catalog, RDF.type, ns.DCAT.Catalog) in g
    assert one(g, catalog, DCTERMS.title) == zh("黄梅县人民政府开放数据目录")
    assert "各单位发布的开放数据集" in one(g, catalog, DCTERMS.description)
    assert one(g, catalog, FOAF.homepage) == URIRef(HOST + "/")
    assert one(g, one(g, catalog, DCTERMS.publisher), FOAF.name) == zh("黄梅县人民政府办公室")
    assert set(g.objects(catalog, ns.DCAT.dataset)) == {URIRef(published["open"]), URIRef(published["cond"])}
    assert (URIRef(published["draft"]), None, None) not in g  # unpublished: absent
    check_open_dataset(g, published, town)
    check_conditional_dataset(g, published, town)
    here = URIRef(f"{HOST}/catalog.{ext}?page=1")
    assert (here, RDF.type, HYDRA.PagedCollection) in g
    assert one(g, here, HYDRA.totalItems).toPython() == 2
    assert one(g, here, HYDRA.itemsPerPage).toPython() == 1000
    assert one(g, here, HYDRA.first) == one(g, here, HYDRA.last) == here
    assert list(g.objects(here, HYDRA.next)) == [] and list(g.objects(here, HYDRA.previous)) == []


def test_a_units_catalogue_holds_its_own_datasets(testapp, published, other_town, request_as):
    request = request_as("manager")
    theirs = content.create(request, other_town, "Dataset", {**DATASET, "title": "别处的数据"}, unrestricted=True)
    content.set_state(request, theirs, "published", "publish")
    everything = fetch(testapp, "/catalog.ttl", "ttl")
    assert len(list(everything.objects(URIRef(HOST + "/@@datasets"), ns.DCAT.dataset))) == 3
    g = fetch(testapp, f"{other_town.path}catalog.ttl", "ttl")
    catalog = URIRef(HOST + other_town.path + "@@datasets")
    assert list(g.objects(catalog, ns.DCAT.dataset)) == [URIRef(HOST + theirs.path)]
    assert one(g, catalog, DCTERMS.publisher) == URIRef(HOST + other_town.path)
    assert one(g, URIRef(f"{HOST}{other_town.path}catalog.ttl?page=1"), HYDRA.totalItems).toPython() == 1


def test_unpublished_and_retracted_datasets_are_absent(testapp, tokens, published, dbsession):  # noqa: F811
    testapp.get(published["draft"].removeprefix(HOST) + "dcat.ttl", status=404)
    retract = published["cond"].removeprefix(HOST) + "@workflow/retract"
    testapp.post_json(retract, {"comment": "数据有误，暂停开放"}, headers=tokens["reviewer"])
    g = fetch(testapp, "/catalog.jsonld", "jsonld")
    assert list(g.objects(URIRef(HOST + "/@@datasets"), ns.DCAT.dataset)) == [URIRef(published["open"])]
    assert (URIRef(published["cond_file"]), None, None) not in g
    testapp.get(published["cond"].removeprefix(HOST) + "dcat.jsonld", status=404)


def bulk_datasets(dbsession, unit: Any, n: int) -> None:
    """n published datasets under `unit`, inserted in bulk (as bench/reindex.py does): no events."""
    first = (dbsession.scalar(select(Node.id).order_by(Node.id.desc()).limit(1)) or 0) + 1
    when = dt.datetime(2025, 1, 1)
    nodes, rows = [], []
    for i in range(n):
        nodes.append({"id": first + i, "type": "Dataset", "parent_id": unit.id, "name": f"bulk-{i}",
                      "path": f"{unit.path}bulk-{i}/", "position": 1000 + i, "title": f"批量数据集{i}",
                      "owner": "admin", "created": when, "modified": when + dt.timedelta(minutes=i),
                      "published": when, "state": "published"})
        rows.append({"id": first + i, "theme": "人口", "keywords": [], "license": "cc-by",
                     "open_class": "无条件开放",
                     "update_frequency": "每年", "spatial": "黄梅县", "contact_name": "", "contact_phone": "",
                     "contact_email": ""})
    dbsession.execute(insert(Node.__table__), nodes)
    dbsession.execute(insert(Dataset.__table__), rows)


def test_hydra_paging_past_a_thousand_datasets(testapp, town, dbsession):
    bulk_datasets(dbsession, town, 1001)
    g = fetch(testapp, "/catalog.ttl?page=2", "ttl")
    here, page1 = URIRef(HOST + "/catalog.ttl?page=2"), URIRef(HOST + "/catalog.ttl?page=1")
    assert (here, RDF.type, HYDRA.PagedCollection) in g and (here, RDF.type, HYDRA.PartialCollectionView) in g
    assert one(g, here, HYDRA.totalItems) == Literal(1001, datatype=ns.XSD.integer)
    assert one(g, here, HYDRA.itemsPerPage).toPython() == 1000
    assert one(g, here, HYDRA.first) == one(g, here, HYDRA.firstPage) == page1
    assert one(g, here, HYDRA.previous) == one(g, here, HYDRA.previousPage) == page1
    assert one(g, here, HYDRA.last) == one(g, here, HYDRA.lastPage) == here
    assert list(g.objects(here, HYDRA.next)) == []
    # newest change first: the oldest is alone on the last page
    assert list(g.objects(URIRef(HOST + "/@@datasets"), ns.DCAT.dataset)) == [URIRef(f"{HOST}{town.path}bulk-0/")]

    g1 = fetch(testapp, "/catalog.jsonld", "jsonld")  # no page: the first
    jpage1, jpage2 = URIRef(HOST + "/catalog.jsonld?page=1"), URIRef(HOST + "/catalog.jsonld?page=2")
    assert one(g1, jpage1, HYDRA.next) == one(g1, jpage1, HYDRA.nextPage) == jpage2
    assert one(g1, jpage1, HYDRA.last) == jpage2
    assert list(g1.objects(jpage1, HYDRA.previous)) == []
    datasets = set(g1.objects(URIRef(HOST + "/@@datasets"), ns.DCAT.dataset))
    assert len(datasets) == 1000 and URIRef(f"{HOST}{town.path}bulk-1000/") in datasets


def test_a_middle_page_links_both_ways(testapp, town, dbsession, monkeypatch):
    monkeypatch.setattr(dcat, "PAGE_SIZE", 2)
    bulk_datasets(dbsession, town, 5)
    g = fetch(testapp, "/catalog.rdf?page=2", "rdf")
    here = URIRef(HOST + "/catalog.rdf?page=2")
    assert one(g, here, HYDRA.previous) == URIRef(HOST + "/catalog.rdf?page=1")
    assert one(g, here, HYDRA.next) == URIRef(HOST + "/catalog.rdf?page=3")
    assert one(g, here, HYDRA.last) == URIRef(HOST + "/catalog.rdf?page=3")
    assert one(g, here, HYDRA.itemsPerPage).toPython() == 2
    assert set(g.objects(URIRef(HOST + "/@@datasets"), ns.DCAT.dataset)) == {
        URIRef(f"{HOST}{town.path}bulk-{i}/") for i in (2, 1)}


@pytest.mark.parametrize("page,message", [("0", "从 1 开始的整数"), ("-1", "从 1 开始的整数"),
                                          ("abc", "“abc”"),
                                          ("1.5", "从 1 开始的整数"), ("２", "从 1 开始的整数"),
                                          ("2", "没有第 2 页")])
def test_a_bad_page_is_refused_with_the_reason(testapp, page, message):
    res = testapp.get("/catalog.ttl", {"page": page}, status=400)
    assert message in res.text


def test_the_pages_link_their_dcat(testapp, published, town):
    def alternates(url: str) -> set[tuple[str, str]]:
        page = testapp.get(url)
        return {(link.get("type"), link.get("href")) for link in page.html.find_all("link", rel="alternate")
                if link.get("type") in MIMES.values()}

    dataset_links = alternates(published["open"])
    assert dataset_links == {(mime, published["open"] + f"dcat.{ext}") for ext, mime in MIMES.items()}
    assert alternates("/@@datasets") == {(mime, f"{HOST}/catalog.{ext}") for ext, mime in MIMES.items()}
    assert alternates(f"{town.path}@@datasets") == {(mime, f"{HOST}{town.path}catalog.{ext}")
                                                   for ext, mime in MIMES.items()}
    assert alternates(published["file"]) == set()  # a resource page is not a dataset
    for _mime, href in dataset_links:
        testapp.get(href, status=200)
