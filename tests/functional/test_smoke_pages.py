"""Every screen renders for the user who may see it."""
from tests.conftest import login, unit


def test_public_pages_render(testapp, dbsession):
    assert "黄梅镇" in testapp.get("/").text
    town = unit(dbsession, "黄梅镇")
    res = testapp.get(town.path)
    assert town.full_name in res.text
    assert "网站标识码" in res.text or "Website identification code" in res.text


def test_static_files_are_served(testapp):
    assert "font" in testapp.get("/static/portal.css").text
    assert testapp.get("/static-deform/css/form.css").status_int == 200


def test_staff_screens_render(testapp, dbsession, users):
    town = unit(dbsession, "黄梅镇")
    login(testapp, "manager")
    for view in ("@@contents", "@@sharing", "@@history", "@@edit", "@@add?type=Folder", "@@add?type=Disclosure",
                 "@@add?type=News", "@@add?type=File", "@@add?type=Image", "@@add?type=Page"):
        assert testapp.get(town.path + view).status_int == 200, view
    for view in ("@@review-queue", "@@my-items"):
        assert testapp.get("/" + view).status_int == 200
