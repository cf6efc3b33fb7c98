"""Files and images through the pages: downloads (type, Chinese file name, ranges), the size limit,
image validation and clean-up, scales, and no orphan blobs after a failed request."""
from __future__ import annotations

import base64
import hashlib
import io
import os
from pathlib import Path
from urllib.parse import quote

import pytest
import webtest
from PIL import Image as PILImage

from portal.blobs import BlobStore
from tests.conftest import api_token, login, unit
from tests.functional.test_editing import (add, add_item,  # noqa: F401
                                           field_has_error, node_count)

TOWN = "黄梅镇"
LIMIT = 2 * 1024 * 1024  # portal.max_upload_size of the test settings


def blob_files(blobs_dir: Path) -> set[Path]:
    """Every stored file (blobs and scales), not the temporary ones (tmp/: being written; stash/:
    a refused form's files until it is sent again, portal.uploads.UploadStash)."""
    return {p for p in blobs_dir.rglob("*")
            if p.is_file() and not {"tmp", "stash"} & set(p.relative_to(blobs_dir).parts)}


def blob_path(blobs_dir: Path, digest: str) -> Path:
    return blobs_dir / digest[:2] / digest[2:4] / digest


def jpeg_bytes(size=(1600, 1200), exif: PILImage.Exif | None = None, image: PILImage.Image | None = None) -> bytes:
    im = image or PILImage.new("RGB", size, (30, 120, 200))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90, **({"exif": exif.tobytes()} if exif is not None else {}))
    return out.getvalue()


def noisy_jpeg(size=(300, 300)) -> bytes:
    return jpeg_bytes(image=PILImage.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)))


def town_path(dbsession) -> str:
    return unit(dbsession, TOWN).path


# -- downloads ------------------------------------------------------------------------------------

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 4
PDF_NAME = "关于做好2024年春耕生产工作的通知.pdf"


@pytest.fixture
def pdf_file(testapp, dbsession, users):
    login(testapp, "editor")
    return add_item(testapp, dbsession, town_path(dbsession), "File",
                    {"upload": webtest.Upload(PDF_NAME, PDF, "application/pdf")})


def test_download_has_type_and_chinese_file_name(testapp, pdf_file):
    res = testapp.get(f"{pdf_file.path}@@download/file")
    assert res.status_int == 200
    assert res.body == PDF
    assert res.content_type == "application/pdf"
    disposition = res.headers["Content-Disposition"]
    assert f"filename*=UTF-8''{quote(PDF_NAME)}" in disposition
    assert "%E5%85%B3%E4%BA%8E" in disposition  # 关于, percent-encoded UTF-8
    assert all(ord(ch) < 128 for ch in disposition)  # the header itself is ASCII
    assert res.headers["X-Content-Type-Options"] == "nosniff"


def test_download_range_request(testapp, pdf_file):
    res = testapp.get(f"{pdf_file.path}@@download/file", headers={"Range": "bytes=0-9"}, status=206)
    assert res.body == PDF[:10]
    assert len(res.body) == 10
    assert res.headers["Content-Range"] == f"bytes 0-9/{len(PDF)}"
    res = testapp.get(f"{pdf_file.path}@@download/file", headers={"Range": "bytes=100-"}, status=206)
    assert res.body == PDF[100:]
    assert res.headers["Content-Range"] == f"bytes 100-{len(PDF) - 1}/{len(PDF)}"


def test_download_of_unknown_field_is_404(testapp, pdf_file):
    testapp.get(f"{pdf_file.path}@@download/nofield", status=404)
    testapp.get(f"{pdf_file.path}@@download", status=404)
    testapp.get(f"{pdf_file.path}@@download/title", status=404)


def test_private_file_is_not_downloadable_by_anonymous(testapp, pdf_file):
    """A private item answers as a missing one does to people who may not view it (issue 8)."""
    testapp.reset()
    res = testapp.get(f"{pdf_file.path}@@download/file", status=404)
    assert PDF not in res.body


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>'
HTML = b"<!DOCTYPE html><html><body><script>document.title='PWNED'</script></body></html>"

# The attack run's uploads: no extension and a client media type a browser once ran inline, and a
# picture's extension on a page. The client's media type is never read.
HOSTILE = [
    ("evil", SVG, "image/png,image/svg+xml"),
    ("evil", HTML, "image/gif, text/html"),
    ("photo.png", HTML, "image/png"),
    ("页面.html", HTML, "text/html"),
    ("图标.svg", SVG, "image/svg+xml"),
]


@pytest.mark.parametrize("filename, data, client_type", HOSTILE)
def test_hostile_form_upload_is_refused_naming_the_file(testapp, dbsession, users, blobs_dir, filename, data,
                                                       client_type):
    login(testapp, "editor")
    before_blobs, before_nodes = blob_files(blobs_dir), node_count(dbsession)
    res = add(testapp, town_path(dbsession), "File", {"upload": webtest.Upload(filename, data, client_type)},
              status=200)
    assert field_has_error(res.text, "file")
    assert f"“{filename}”" in res.text and "无法上传" in res.text
    assert node_count(dbsession) == before_nodes
    assert blob_files(blobs_dir) == before_blobs


@pytest.mark.parametrize("filename, data, client_type", HOSTILE + [
    ("evil", SVG, "image/svg+xml"), ("evil", SVG, "Image/SVG+XML; charset=utf-8"),
    ("evil", HTML, "application/xhtml+xml"), ("evil.png", SVG, "image/png")])
def test_hostile_api_upload_is_a_400_on_the_field(testapp, dbsession, users, filename, data, client_type):
    headers = api_token(testapp, "editor")
    res = testapp.post_json(town_path(dbsession), {"@type": "File", "title": "活动内容", "file": {
        "data": base64.b64encode(data).decode(), "encoding": "base64", "filename": filename,
        "content-type": client_type}}, headers=headers, status=400)
    errors = {e["field"]: e["message"] for e in res.json["error"]["errors"]}
    assert "file" in errors and f"“{filename}”" in errors["file"]


def test_the_client_media_type_is_ignored(testapp, dbsession, users):
    login(testapp, "editor")
    f = add_item(testapp, dbsession, town_path(dbsession), "File",
                 {"upload": webtest.Upload("通知.pdf", PDF, "text/html")})
    assert f.file["content_type"] == "application/pdf"
    res = testapp.get(f"{f.path}@@download/file")
    assert res.content_type == "application/pdf"


def test_a_file_without_extension_gets_the_type_its_content_tells(testapp, dbsession, users):
    headers = api_token(testapp, "editor")
    res = testapp.post_json(town_path(dbsession), {"@type": "File", "file": {
        "data": base64.b64encode(PDF).decode(), "encoding": "base64", "filename": "春耕通知",
        "content-type": "image/svg+xml"}}, headers=headers, status=201)
    assert res.json["file"]["content-type"] == "application/pdf"
    assert res.json["file"]["filename"] == "春耕通知.pdf"


def test_stored_file_names_lose_invisible_characters(testapp, dbsession, users):
    """CR/LF and bidi overrides in a name: `通知\u202egpj.pdf` would read as `通知fdp.jpg`."""
    headers = api_token(testapp, "editor")
    res = testapp.post_json(town_path(dbsession), {"@type": "File", "file": {
        "data": base64.b64encode(PDF).decode(), "encoding": "base64",
        "filename": "春耕\r\n通知\u202egpj\u200b.pdf"}}, headers=headers, status=201)
    assert res.json["file"]["filename"] == "春耕通知gpj.pdf"
    assert res.json["title"] == "春耕通知gpj.pdf"
    download = testapp.get(res.json["file"]["download"].removeprefix("http://example.com"),
                           headers={"Authorization": headers["Authorization"]})
    assert "%E2%80%AE" not in download.headers["Content-Disposition"]


# -- how stored files are served ------------------------------------------------------------------

def stored_file(dbsession, tm, blobs_dir, data: bytes, content_type: str, filename: str = "evil",
                name: str = "old-file"):
    """A published File as rows written before uploads were checked may hold it."""
    from content_types.file import File
    from portal.blobs import TransactionalBlobs
    from portal.models.node import utcnow

    digest, size, _new = TransactionalBlobs(BlobStore(blobs_dir), tm).put(data)  # removed again at rollback
    town = unit(dbsession, TOWN)
    now = utcnow()
    item = File(title="旧数据", state="published", created=now, modified=now, published=now,
                file={"hash": digest, "filename": filename, "content_type": content_type, "size": size})
    town.add(item, name)
    dbsession.flush()
    return item


@pytest.mark.parametrize("content_type, data", [
    ("image/svg+xml; charset=utf-8", SVG), ("image/svg+xml;charset=UTF-8", SVG), ("image/svg+xml", SVG),
    ("image/png,image/svg+xml", SVG), ("image/gif, text/html", HTML), ("text/html", HTML),
    ("application/xhtml+xml", HTML), ("image/png; x=1", SVG), (" IMAGE/PNG ", SVG),
])
def test_a_stored_active_type_is_served_as_an_opaque_download(testapp, dbsession, users, tm, blobs_dir,
                                                              content_type, data):
    item = stored_file(dbsession, tm, blobs_dir, data, content_type)
    res = testapp.get(f"{item.path}@@download/file")
    assert res.body == data
    assert res.headers["Content-Type"] == "application/octet-stream"
    assert res.headers["Content-Disposition"].startswith("attachment;")
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert res.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'self'; sandbox"


@pytest.mark.parametrize("content_type, data", [("image/png", SVG), ("image/gif", HTML), ("application/pdf", HTML)])
def test_an_inline_type_whose_content_is_not_that_type_is_a_download(testapp, dbsession, users, tm, blobs_dir,
                                                                    content_type, data):
    """`evil.png` used to be stored as image/png whatever it held."""
    item = stored_file(dbsession, tm, blobs_dir, data, content_type, filename="evil.png")
    res = testapp.get(f"{item.path}@@download/file")
    assert res.headers["Content-Type"] == content_type
    assert res.headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in res.headers["Content-Security-Policy"]


@pytest.mark.parametrize("filename, data, media, inline", [
    ("通知.pdf", PDF, "application/pdf", True),
    ("照片.png", None, "image/png", True),
    ("照片.jpg", None, "image/jpeg", True),
    ("扫描件.bmp", None, "image/bmp", False),
    ("扫描件.tif", None, "image/tiff", False),
    ("说明.txt", "办事指南\n".encode("gb18030"), "text/plain", False),
    ("名单.csv", b"a,b\n1,2\n", "text/csv", False),
])
def test_only_exact_raster_types_and_pdf_are_inline(testapp, dbsession, users, filename, data, media, inline):
    if data is None:
        fmt = {"png": "PNG", "jpg": "JPEG", "bmp": "BMP", "tif": "TIFF"}[filename.rsplit(".", 1)[1]]
        out = io.BytesIO()
        PILImage.new("RGB", (20, 10), (0, 90, 200)).save(out, fmt)
        data = out.getvalue()
    login(testapp, "editor")
    f = add_item(testapp, dbsession, town_path(dbsession), "File", {"upload": webtest.Upload(filename, data, "x/y")})
    res = testapp.get(f"{f.path}@@download/file")
    assert res.body == data
    assert res.headers["Content-Type"] == media  # no charset made up for text in GB18030
    assert res.headers["Content-Disposition"].startswith("inline;" if inline else "attachment;")
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    policy = res.headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'none';")
    assert ("sandbox" in policy) == (media != "application/pdf" or not inline)


def test_image_scales_are_inline_pictures_with_their_own_policy(testapp, big_image):
    for url in (f"{big_image.path}@@images/image", f"{big_image.path}@@images/image/thumb"):
        res = testapp.get(url)
        assert res.headers["Content-Type"] == "image/jpeg"
        assert res.headers["Content-Disposition"].startswith("inline;")
        assert res.headers["Content-Security-Policy"] == \
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"


def test_a_stored_picture_of_an_image_field_with_a_bad_type_is_not_inline(testapp, big_image, dbsession):
    big_image.image = {**big_image.image, "content_type": "image/jpeg,image/svg+xml"}
    dbsession.flush()
    res = testapp.get(f"{big_image.path}@@images/image")
    assert res.headers["Content-Disposition"].startswith("attachment;")
    assert res.headers["Content-Type"] == "application/octet-stream"


def test_item_page_links_the_download(testapp, pdf_file):
    res = testapp.get(pdf_file.path)
    assert f'href="http://example.com{pdf_file.path}@@download/file"' in res.text


# -- the size limit -------------------------------------------------------------------------------

def test_file_over_the_limit_is_a_form_error_and_leaves_nothing(testapp, dbsession, users, blobs_dir):
    login(testapp, "editor")
    before_blobs, before_nodes = blob_files(blobs_dir), node_count(dbsession)
    res = add(testapp, town_path(dbsession), "File",
              {"title": "太大", "upload": webtest.Upload("big.bin", b"\0" * (LIMIT + 1), "application/octet-stream")},
              status=200)
    assert field_has_error(res.text, "file")
    assert not field_has_error(res.text, "title")
    assert node_count(dbsession) == before_nodes
    assert blob_files(blobs_dir) == before_blobs
    assert not list((blobs_dir / "tmp").glob("*"))


def test_file_at_the_limit_is_accepted(testapp, dbsession, users):
    login(testapp, "editor")
    data = PDF + b"\1" * (LIMIT - len(PDF))
    f = add_item(testapp, dbsession, town_path(dbsession), "File",
                 {"upload": webtest.Upload("exact.pdf", data, "application/octet-stream")})
    assert f.file["size"] == LIMIT


def test_empty_file_is_an_error(testapp, dbsession, users):
    login(testapp, "editor")
    before = node_count(dbsession)
    res = add(testapp, town_path(dbsession), "File", {"upload": webtest.Upload("empty.txt", b"", "text/plain")},
              status=200)
    assert field_has_error(res.text, "file")
    assert node_count(dbsession) == before


# -- images ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, data", [
    ("photo.jpg", b"this is not a picture at all"),
    ("photo.jpg", b"%PDF-1.4\n" + b"x" * 100),
    ("truncated.jpg", None),  # a JPEG cut in half
])
def test_bad_images_are_form_errors(testapp, dbsession, users, blobs_dir, name, data):
    if data is None:
        whole = noisy_jpeg()
        data = whole[: len(whole) // 2]
    login(testapp, "editor")
    before_blobs, before_nodes = blob_files(blobs_dir), node_count(dbsession)
    res = add(testapp, town_path(dbsession), "Image", {"title": "坏图", "upload": webtest.Upload(name, data, "image/jpeg")},
              status=200)
    assert field_has_error(res.text, "image")
    assert node_count(dbsession) == before_nodes
    assert blob_files(blobs_dir) == before_blobs


def test_exif_orientation_is_applied_and_exif_dropped(testapp, dbsession, users, blobs_dir):
    # stored sideways: left half red, right half blue, 60x30; orientation 6 = turn 90° clockwise to show
    im = PILImage.new("RGB", (60, 30), (220, 0, 0))
    im.paste((0, 0, 220), (30, 0, 60, 30))
    exif = PILImage.Exif()
    exif[0x0112] = 6  # Orientation
    exif[0x010F] = "SpyPhone"  # Make
    exif[0x8825] = {1: "N", 2: (30.0, 4.0, 0.0)}  # GPS
    data = jpeg_bytes(image=im, exif=exif)
    assert PILImage.open(io.BytesIO(data)).getexif()[0x0112] == 6
    login(testapp, "editor")
    img = add_item(testapp, dbsession, town_path(dbsession), "Image",
                   {"title": "旋转", "upload": webtest.Upload("sideways.jpg", data, "image/jpeg")})
    ref = img.image
    assert (ref["width"], ref["height"]) == (30, 60)
    stored = blob_path(blobs_dir, ref["hash"]).read_bytes()
    assert ref["hash"] == hashlib.sha256(stored).hexdigest()
    with PILImage.open(io.BytesIO(stored)) as upright:
        assert upright.size == (30, 60)
        assert dict(upright.getexif()) == {}
        assert b"SpyPhone" not in stored
        rgb = upright.convert("RGB")
        top, bottom = rgb.getpixel((15, 5)), rgb.getpixel((15, 55))
    assert top[0] > 150 and top[2] < 80  # red on top
    assert bottom[2] > 150 and bottom[0] < 80  # blue below
    res = testapp.get(f"{img.path}@@images/image")
    with PILImage.open(io.BytesIO(res.body)) as served:
        assert served.size == (30, 60)


@pytest.fixture
def big_image(testapp, dbsession, users):
    login(testapp, "editor")
    return add_item(testapp, dbsession, town_path(dbsession), "Image",
                    {"title": "大图", "upload": webtest.Upload("big.jpg", jpeg_bytes((1600, 1200)), "image/jpeg")})


@pytest.mark.parametrize("scale, longest", [("thumb", 128), ("preview", 400), ("large", 1024)])
def test_scales_have_the_right_size_and_are_made_once(testapp, blobs_dir, big_image, scale, longest):
    digest = big_image.image["hash"]
    cached = blobs_dir / "scales" / digest[:2] / f"{digest}-{scale}.jpg"
    assert not cached.exists()
    url = f"{big_image.path}@@images/image/{scale}"
    res = testapp.get(url)
    assert res.content_type == "image/jpeg"
    with PILImage.open(io.BytesIO(res.body)) as im:
        assert max(im.size) == longest
        assert im.size == (longest, longest * 3 // 4)
    assert cached.is_file()
    first = cached.stat()
    res2 = testapp.get(url)
    assert res2.body == res.body
    second = cached.stat()
    assert (second.st_ino, second.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)


def test_original_image_and_unknown_scale(testapp, big_image):
    res = testapp.get(f"{big_image.path}@@images/image")
    with PILImage.open(io.BytesIO(res.body)) as im:
        assert im.size == (1600, 1200)
    testapp.get(f"{big_image.path}@@images/image/huge", status=404)
    testapp.get(f"{big_image.path}@@images/nofield/thumb", status=404)
    testapp.get(f"{big_image.path}@@images/title/thumb", status=404)


def test_small_image_is_not_enlarged(testapp, dbsession, users, blobs_dir):
    login(testapp, "editor")
    data = jpeg_bytes((100, 80))
    img = add_item(testapp, dbsession, town_path(dbsession), "Image",
                   {"title": "小图", "upload": webtest.Upload("small.jpg", data, "image/jpeg")})
    res = testapp.get(f"{img.path}@@images/image/preview")
    with PILImage.open(io.BytesIO(res.body)) as im:
        assert im.size == (100, 80)
    assert not list((blobs_dir / "scales").rglob(f"{img.image['hash']}-*"))


def test_item_page_shows_the_large_scale(testapp, big_image):
    res = testapp.get(big_image.path)
    assert f"{big_image.path}@@images/image/large" in res.text


def test_news_lead_image_is_validated_too(testapp, dbsession, users):
    login(testapp, "editor")
    before = node_count(dbsession)
    res = add(testapp, town_path(dbsession), "News", {
        "title": "新闻", "upload": webtest.Upload("lead.jpg", b"not an image", "image/jpeg")}, status=200)
    assert field_has_error(res.text, "lead_image")
    assert node_count(dbsession) == before


# -- no orphans after a failed request ------------------------------------------------------------

@pytest.fixture
def own_transaction_browser(app, testapp, dbsession):
    """A browser whose requests run in their own transaction, committed or aborted by pyramid_tm as in
    production (the database work still goes to the test's session, which is rolled back)."""
    return webtest.TestApp(app, cookiejar=testapp.cookiejar, extra_environ={
        "HTTP_HOST": "example.com", "app.dbsession": dbsession, "REMOTE_ADDR": "10.0.0.1"})


@pytest.fixture
def puts(monkeypatch):
    """The digests the blob store wrote as new files."""
    written: list[str] = []
    original = BlobStore.put

    def spy(self, source, max_size=None):
        digest, size, created = original(self, source, max_size=max_size)
        if created:
            written.append(digest)
        return digest, size, created

    monkeypatch.setattr(BlobStore, "put", spy)
    return written


@pytest.mark.parametrize("type_name, values", [
    ("File", {"title": "x", "description": "长" * 2001}),
    ("Image", {"title": "长" * 501}),
    ("News", {"title": ""}),
], ids=["file-bad-description", "image-bad-title", "news-lead-image-no-title"])
def test_failed_add_leaves_no_orphan_blob(testapp, dbsession, users, blobs_dir, own_transaction_browser, puts,
                                          type_name, values):
    login(testapp, "editor")
    browser = own_transaction_browser
    data = jpeg_bytes((64, 48)) if type_name in ("Image", "News") else PDF + os.urandom(2048)
    before = blob_files(blobs_dir)
    form = browser.get(f"{town_path(dbsession)}@@add?type={type_name}").forms["content-form"]
    for name, value in values.items():
        form[name] = value
    form["upload"] = webtest.Upload("upload.jpg" if type_name != "File" else "upload.pdf", data, "image/jpeg")
    nodes = node_count(dbsession)
    res = form.submit("save", status=200)
    assert 'id="content-form"' in res.text
    assert puts, "the upload was not even stored: the test does not test anything"
    assert blob_files(blobs_dir) == before
    for digest in puts:
        assert not blob_path(blobs_dir, digest).exists()
    assert node_count(dbsession) == nodes


def test_successful_add_in_its_own_transaction_keeps_the_blob(testapp, dbsession, users, blobs_dir,
                                                             own_transaction_browser, puts):
    """The control for the test above: a committed request keeps its file."""
    login(testapp, "editor")
    form = own_transaction_browser.get(f"{town_path(dbsession)}@@add?type=File").forms["content-form"]
    form["upload"] = webtest.Upload("kept.pdf", PDF + os.urandom(1024), "application/octet-stream")
    form.submit("save", status=302)
    try:
        assert len(puts) == 1
        assert blob_path(blobs_dir, puts[0]).is_file()
    finally:
        for digest in puts:  # committed outside the test's transaction: clean up by hand
            BlobStore(blobs_dir).delete(digest)
