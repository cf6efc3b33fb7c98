"""The test CKAN is real and usable through ckanapi: the round trip the portal's republishing needs.

One test walks a package's life (organisation, package, uploaded CSV, show, update, search,
delete) so that the session pays for CKAN's start only once and the test stays fast.
"""
from __future__ import annotations

import io

import requests

from tests.ckan.conftest import Ckan

# GBK bytes on purpose: the download must give back exactly what was uploaded, not re-encoded text.
CSV = "乡镇,户籍人口\n黄梅镇,102345\n孔垄镇,61234\n".encode("gbk")


def test_ckan_round_trip_through_ckanapi(ckan: Ckan) -> None:
    api = ckan.api
    status = requests.get(f"{ckan.url}/api/3/action/status_show", timeout=10).json()["result"]
    assert status["ckan_version"] == "2.12.0"

    org = api.action.organization_create(name="smoke-unit", title="黄梅镇人民政府")
    assert org["title"] == "黄梅镇人民政府"

    package = api.action.package_create(
        name="smoke-population", title="各乡镇户籍人口", owner_org=org["id"], notes="摘要",
        tags=[{"name": "人口"}], extras=[{"key": "portal_uid", "value": "uid-1"}])
    resource = api.action.resource_create(package_id=package["id"], name="人口.csv",
                                          upload=("population.csv", io.BytesIO(CSV)))
    assert resource["url_type"] == "upload" and resource["size"] == len(CSV)
    download = requests.get(resource["url"], timeout=30)
    assert download.status_code == 200 and download.content == CSV

    shown = api.action.package_show(id=package["id"])
    assert shown["organization"]["name"] == "smoke-unit"
    assert [r["id"] for r in shown["resources"]] == [resource["id"]]
    assert {e["key"]: e["value"] for e in shown["extras"]} == {"portal_uid": "uid-1"}

    shown["title"] = "各乡镇户籍人口（2025）"
    for key in ("metadata_modified", "metadata_created"):
        shown.pop(key)
    updated = api.action.package_update(**shown)
    assert updated["title"] == "各乡镇户籍人口（2025）"
    assert [r["id"] for r in updated["resources"]] == [resource["id"]]  # ids sent: resource kept

    # The Solr stand-in answers: the package is found by name, by word and by organisation facet.
    found = api.action.package_search(q="name:smoke-population")
    assert [p["id"] for p in found["results"]] == [package["id"]]
    assert found["results"][0]["title"] == "各乡镇户籍人口（2025）"
    assert api.action.package_search(q="户籍人口")["count"] == 1
    faceted = api.action.package_search(fq="organization:smoke-unit", **{"facet.field": '["organization"]'})
    assert faceted["count"] == 1 and faceted["search_facets"]["organization"]["items"][0]["count"] == 1
    assert api.action.package_search(q="name:no-such-package")["count"] == 0

    api.action.package_delete(id=package["id"])
    assert api.action.package_show(id=package["id"])["state"] == "deleted"
    assert api.action.package_search(q="name:smoke-population")["count"] == 0
