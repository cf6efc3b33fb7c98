"""Issue 8, "script through uploads", in a real browser: hostile files are refused at upload, and
whatever is stored -- rows written before uploads were checked, polyglots that are also a real
picture or PDF -- never runs script when Chromium opens its download URL or its item page. And the
Content-Security-Policy holds in the browser: no inline script without the nonce, no violation on
any page type, deform's widgets still work under it."""
from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import deform
import pytest
from PIL import Image
from sqlalchemy import func, select

from tests.browser.conftest import PageLog, PortalServer, log_in

MARK = "/__pwned__"  # any request for it means a payload ran (or was rendered as a page)
SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" onload="window.__pwned=1;fetch(\'/__pwned__/svg-onload\')">'
       b'<script>window.__pwned=1;document.title="PWNED";fetch("/__pwned__/svg")</script>'
       b'<image href="/__pwned__/svg-image" width="1" height="1"/></svg>')
HTML = (b"<!DOCTYPE html><html><head><title>page</title></head><body>"
        b"<script>window.__pwned=1;document.title='PWNED';fetch('/__pwned__/html')</script>"
        b"<img src='/__pwned__/html-img'></body></html>")

# The attack run's uploads: no extension with a media type that starts with image/, and a page
# under a picture's extension; the client's media type is never believed.
HOSTILE = [
    ("evil", SVG, "image/png,image/svg+xml"),
    ("evil", HTML, "image/gif, text/html"),
    ("photo.png", HTML, "image/png"),
    ("logo.svg", SVG, "image/svg+xml"),
    ("page.html", HTML, "text/html"),
]
TOWN = "/huangmeizhen/"


def png(size: tuple[int, int] = (60, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 110, 190)).save(out, "PNG")
    return out.getvalue()


def file_count(server: PortalServer) -> int:
    from content_types.file import File

    with server.transaction() as session:
        return session.scalar(select(func.count(File.id)))


def assert_nothing_ran(page: Any, server: PortalServer) -> None:
    page.wait_for_timeout(300)  # let anything that would run, run
    assert server.requested(MARK) == []
    try:
        pwned = page.evaluate("() => [window.__pwned || null, document.title]")
    except Exception:  # the PDF viewer's document: nothing of ours can run in it either
        return
    assert pwned[0] is None and pwned[1] != "PWNED", pwned


def api_token(page: Any, login: str = "editor") -> str:
    from tests.conftest import PASSWORD

    res = page.request.post("/@login", data=json.dumps({"login": login, "password": PASSWORD}),
                            headers={"Content-Type": "application/json"})
    assert res.ok, res.text()
    return res.json()["token"]


def api_upload(page: Any, token: str, filename: str, data: bytes, media: str) -> Any:
    body = {"@type": "File", "title": filename or "文件", "file": {
        "data": base64.b64encode(data).decode(), "encoding": "base64", "filename": filename, "content-type": media}}
    return page.request.post(TOWN, data=json.dumps(body), headers={
        "Content-Type": "application/json", "Accept": "application/json", "Authorization": f"Bearer {token}"})


# -- refused at upload ---------------------------------------------------------------------------

def test_hostile_uploads_are_refused_through_the_form(page: Any, page_log: PageLog,
                                                      portal_server: PortalServer) -> None:
    log_in(page, "editor")
    before = file_count(portal_server)
    for filename, data, media in HOSTILE:
        page.goto(f"{TOWN}@@add?type=File")
        page.set_input_files("input[type=file]", files=[{"name": filename, "mimeType": media, "buffer": data}])
        with page.expect_navigation():
            page.click("button[name=save]")
        error = page.locator(".invalid-feedback, .error").all_inner_texts()
        assert any(f"“{filename}”" in e and "无法上传" in e for e in error), (filename, error)
        assert "@@add" in page.url
        assert_nothing_ran(page, portal_server)
    assert file_count(portal_server) == before
    assert page_log.csp_violations == []


def test_hostile_uploads_are_refused_through_the_api(page: Any, portal_server: PortalServer) -> None:
    token = api_token(page)
    before = file_count(portal_server)
    for filename, data, media in HOSTILE:
        res = api_upload(page, token, filename, data, media)
        assert res.status == 400, (filename, res.status)
        fields = {e["field"]: e["message"] for e in res.json()["error"]["errors"]}
        assert f"“{filename}”" in fields.get("file", ""), fields
    assert file_count(portal_server) == before


# -- what is stored never runs --------------------------------------------------------------------

# (name, data, stored media type, stored file name): rows as the portal wrote them before the fix.
LEGACY = [
    ("legacy-svg-png", SVG, "image/png,image/svg+xml", "evil"),
    ("legacy-html-gif", HTML, "image/gif, text/html", "evil"),
    ("legacy-svg", SVG, "image/svg+xml", "evil.svg"),
    ("legacy-html", HTML, "text/html", "evil.html"),
    ("legacy-png-html", HTML, "image/png", "evil.png"),
    ("legacy-pdf-html", HTML, "application/pdf", "evil.pdf"),
]


@pytest.fixture(scope="module")
def legacy_items(portal_server: PortalServer) -> dict[str, str]:
    """Published Files (and an Image) holding hostile content under the types once stored."""
    from content_types.file import File
    from content_types.image import Image as ImageItem
    from portal.models import Unit
    from portal.models.node import utcnow

    urls = {}
    with portal_server.transaction() as session:
        town = session.scalar(select(Unit).where(Unit.title == "黄梅镇"))
        now = utcnow()
        for name, data, media, filename in LEGACY:
            digest, size, _new = portal_server.blobs.put(data)
            item = File(title=name, state="published", created=now, modified=now, published=now,
                        file={"hash": digest, "filename": filename, "content_type": media, "size": size})
            town.add(item, name)
            urls[name] = f"{TOWN}{name}/"
        digest, size, _new = portal_server.blobs.put(SVG)
        image = ImageItem(title="legacy-image", state="published", created=now, modified=now, published=now,
                          image={"hash": digest, "filename": "evil", "content_type": "image/png,image/svg+xml",
                                 "size": size, "width": 2000, "height": 2000})
        town.add(image, "legacy-image")
        urls["legacy-image"] = f"{TOWN}legacy-image/"
    return urls


def open_file_url(page: Any, page_log: PageLog, url: str) -> tuple[Any, bool]:
    """Open `url` as a visitor would; (the response the browser got, whether it became a download)."""
    from playwright.sync_api import Error as PlaywrightError

    page.goto("/")  # a page of ours, so a download leaves us on it and can be checked
    page_log.clear()
    try:
        page.goto(url)
        downloaded = False
    except PlaywrightError as exc:
        assert "Download is starting" in str(exc), exc
        downloaded = True
    responses = [r for r in page_log.responses if r.url.endswith(url)]
    assert responses, f"the browser got no response for {url}"
    return responses[-1], downloaded


@pytest.mark.parametrize("name", [n for n, *_ in LEGACY])
def test_a_stored_hostile_file_never_runs(page: Any, page_log: PageLog, portal_server: PortalServer,
                                          legacy_items: dict[str, str], name: str) -> None:
    url = legacy_items[name]
    page.goto(url)  # the item page: a public page linking the file
    assert page.locator(f'a[href$="{url}@@download/file"]').count() == 1
    assert_nothing_ran(page, portal_server)

    response, downloaded = open_file_url(page, page_log, f"{url}@@download/file")
    headers = response.all_headers()
    assert downloaded
    assert headers["content-disposition"].startswith("attachment;")
    assert headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in headers["content-security-policy"]
    assert headers["content-type"].split(";")[0] not in ("text/html", "image/svg+xml", "application/xhtml+xml")
    assert_nothing_ran(page, portal_server)


def test_a_stored_hostile_picture_never_runs(page: Any, page_log: PageLog, portal_server: PortalServer,
                                             legacy_items: dict[str, str]) -> None:
    url = legacy_items["legacy-image"]
    page.goto(url)  # shows <img src=...@@images/image/large>: not a picture, so no scale
    assert_nothing_ran(page, portal_server)
    response, downloaded = open_file_url(page, page_log, f"{url}@@images/image")
    assert downloaded and response.all_headers()["content-type"] == "application/octet-stream"
    assert_nothing_ran(page, portal_server)


@pytest.mark.parametrize("filename, data, media", [
    ("poly.png", png() + HTML, "image/png"),  # a real picture with a page after it
    ("poly.pdf", b"%PDF-1.4\n" + HTML, "application/pdf"),  # a PDF header, then a page
    ("notes.txt", b"meeting notes\n" + HTML, "text/plain"),
])
def test_an_accepted_polyglot_never_runs(page: Any, page_log: PageLog, portal_server: PortalServer,
                                         filename: str, data: bytes, media: str) -> None:
    """What passes the content check is served as exactly that type: a picture is shown as a
    picture, a PDF in the PDF viewer, text as a download; never as a page."""
    token = api_token(page)
    res = api_upload(page, token, filename, data, "text/html")
    assert res.status == 201, res.text()
    item = res.json()
    assert item["file"]["content-type"] == media
    log_in(page, "editor")  # private: the editor, or a reviewer opening it from the queue
    page.goto(item["@id"])
    assert_nothing_ran(page, portal_server)
    response, downloaded = open_file_url(page, page_log, item["file"]["download"].split("/", 3)[3])
    headers = response.all_headers()
    assert headers["content-type"].split(";")[0] == media
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-disposition"].startswith("attachment;" if media == "text/plain" else "inline;")
    assert headers["content-security-policy"].startswith("default-src 'none'")
    if media == "image/png":
        assert not downloaded
        assert page.evaluate("() => document.images.length === 1 && document.images[0].naturalWidth") == 60
    assert_nothing_ran(page, portal_server)


# -- the policy in the browser ------------------------------------------------------------------

def test_inline_script_without_the_nonce_does_not_run(page: Any, page_log: PageLog) -> None:
    response = page.goto(TOWN)
    policy = response.all_headers()["content-security-policy"]
    nonce = policy.split("'nonce-", 1)[1].split("'", 1)[0]
    ran = page.evaluate("""nonce => {
        const plain = document.createElement('script');
        plain.textContent = 'window.__plain = 1';
        document.body.appendChild(plain);
        const nonced = document.createElement('script');
        nonced.nonce = nonce;
        // eval outside of this evaluation: DevTools lets code it runs itself eval
        nonced.textContent = "window.__nonced = 1; setTimeout(function () { try { window.__eval = eval('1 + 1'); } " +
                             "catch (e) { window.__eval = e.name; } }, 0);";
        document.body.appendChild(nonced);
        document.body.insertAdjacentHTML('beforeend', '<img src="/no-such.png" onerror="window.__handler = 1">');
        return {plain: window.__plain || null, nonced: window.__nonced || null};
    }""", nonce)
    page.wait_for_timeout(300)
    assert ran == {"plain": None, "nonced": 1}
    assert page.evaluate("() => [window.__handler || null, window.__eval]") == [None, "EvalError"]
    assert len(page_log.csp_violations) >= 2, page_log.console_errors


def test_every_page_type_loads_with_the_policy_and_no_violation(page: Any, page_log: PageLog,
                                                                legacy_items: dict[str, str]) -> None:
    anonymous = ["/", TOWN, "/@@login", "/@@search?q=%E9%80%9A%E7%9F%A5", "/@@xxgk", f"{TOWN}@@xxgk",
                 legacy_items["legacy-html"], legacy_items["legacy-image"], "/no-such-page/"]
    staff = [f"{TOWN}@@add?type={t}" for t in ("Folder", "Page", "News", "Disclosure", "File", "Image")]
    staff += [f"{TOWN}@@contents", "/@@my-items", f"{legacy_items['legacy-html']}@@edit"]
    for url in anonymous + ["LOGIN"] + staff:
        if url == "LOGIN":
            log_in(page, "editor")
            continue
        page_log.clear()
        response = page.goto(url)
        page.wait_for_load_state("load")
        policy = response.all_headers().get("content-security-policy", "")
        assert policy.startswith("default-src 'self'; script-src 'self' 'nonce-"), (url, policy)
        assert page_log.csp_violations == [], (url, page_log.csp_violations)


def test_form_widgets_run_under_the_policy(page: Any, page_log: PageLog) -> None:
    """deform's widgets (rich text, dates, the attachment list) under the policy: their inline
    scripts carry the nonce and the list's buttons are bound without inline handlers. deform's
    own static files are served here from the installed package where the portal does not serve
    them yet (with jQuery, which deform expects on the page)."""
    static = Path(deform.__file__).parent / "static"
    jquery = (static / "scripts" / "jquery-2.0.3.min.js").read_bytes()

    def serve(route: Any) -> None:
        relative = route.request.url.split("/static-deform/deform:static/", 1)[1].split("?")[0]
        body = (static / relative).read_bytes()
        if relative == "scripts/jquery.form-3.09.js":  # the first script of the form's resources
            body = jquery + b"\n" + body
        route.fulfill(body=body, content_type="text/css" if relative.endswith(".css") else "text/javascript")

    page.route("**/static-deform/deform:static/**", serve)
    log_in(page, "editor")
    page.goto(f"{TOWN}@@add?type=Disclosure")
    page.wait_for_selector(".tox-tinymce", timeout=10_000)  # the rich-text editor started
    # the attachment list (portal.uploads.FileListWidget) is driven by themes/default/static/forms.js,
    # a file of our origin: choosing files adds a title field for each, under the policy
    page.locator("#content-form input[type=file]").set_input_files(
        [{"name": "一.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 1"},
         {"name": "二.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 2"}])
    assert page.locator(".file-new input[name=title]").count() == 2
    assert page_log.csp_violations == []
    assert page_log.page_errors == []
