"""The rich-text editor's image dialog offers the images of the unit being edited (`@@image-list`,
TinyMCE's `image_list`): its own pictures, public ones first, never another unit's, and only to
those who may add or edit there."""
from __future__ import annotations

from typing import Any

import webtest

from portal import content
from tests.conftest import login, unit
from tests.functional.test_editing import png_bytes
from tests.functional.test_form_assets import tinymce_options


def add_image(testapp: webtest.TestApp, path: str, title: str) -> None:
    page = testapp.get(f"{path}@@add?type=Image")
    form = page.forms["content-form"]
    form["title"] = title
    form["upload"] = webtest.Upload(f"{title}.png", png_bytes((60, 40)), "image/png")
    assert form.submit("save").status_int == 302


def test_the_editor_is_offered_the_units_own_images(testapp: webtest.TestApp, dbsession: Any, users: Any,
                                                   request_as: Any) -> None:
    town, other = unit(dbsession, "黄梅镇"), unit(dbsession, "孔垄镇")
    login(testapp, "editor")
    add_image(testapp, town.path, "镇容镇貌")
    add_image(testapp, town.path, "春耕现场")
    login(testapp, "other-editor")
    add_image(testapp, other.path, "孔垄风光")
    published = next(n for n in town.values() if n.title == "春耕现场")
    content.transition(request_as("editor"), published, "submit")
    content.transition(request_as("reviewer"), published, "publish")
    dbsession.flush()

    login(testapp, "editor")
    html = testapp.get(f"{town.path}xwdt/@@add?type=News").text
    url = tinymce_options(html)["image_list"]
    assert url.endswith(f"{town.path}xwdt/@@image-list")
    listed = testapp.get(url).json
    titles = [entry["title"] for entry in listed]
    assert titles[0] == "春耕现场"  # public first
    assert titles[1].startswith("镇容镇貌") and "尚未发布" in titles[1]
    assert not any("孔垄" in t for t in titles)
    assert all(entry["value"].endswith("/@@images/image/large") for entry in listed)
    assert testapp.get(listed[0]["value"]).content_type == "image/png"


def test_the_list_is_for_those_who_may_add_or_edit_there(testapp: webtest.TestApp, dbsession: Any,
                                                        users: Any) -> None:
    town = unit(dbsession, "黄梅镇")
    assert testapp.get(f"{town.path}@@image-list", status="*").status_int in (302, 403)  # anonymous
    login(testapp, "other-editor")
    assert testapp.get(f"{town.path}@@image-list", status=403)
