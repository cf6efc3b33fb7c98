"""What may be uploaded (portal.uploads): the type is decided from the content and the extension,
never from the client's media type; stored file names keep no invisible characters."""
from __future__ import annotations

import io
import struct
import zipfile

import pytest
from PIL import Image

from portal.blobs import content_disposition
from portal.uploads import (FILE_TYPES, INLINE_TYPES, UploadRefused, clean_filename, content_is, file_type,
                            image_filename, sniff)

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>window.__pwned=1</script></svg>'
HTML = b"<!DOCTYPE html><html><body><script>document.title='PWNED'</script></body></html>"
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504


def picture(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), (10, 120, 200)).save(out, fmt)
    return out.getvalue()


def archive(*entries: tuple[str, bytes], first: tuple[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        if first is not None:
            z.writestr(first[0], first[1], compress_type=zipfile.ZIP_STORED)
        for name, data in entries:
            z.writestr(name, data)
    return out.getvalue()


def ooxml(folder: str) -> bytes:
    return archive(("[Content_Types].xml", b"<Types/>"), ("_rels/.rels", b"<Relationships/>"),
                   (f"{folder}/main.xml", b"<x/>"))


def odf(kind: str) -> bytes:
    return archive(("content.xml", b"<x/>"), first=("mimetype", f"application/vnd.oasis.opendocument.{kind}".encode()))


SAMPLES: dict[str, bytes] = {
    "pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF\n",
    "ofd": archive(("OFD.xml", b"<ofd:OFD/>"), ("Doc_0/Document.xml", b"<x/>")),
    "doc": OLE, "xls": OLE, "ppt": OLE, "wps": OLE, "et": OLE, "dps": OLE,
    "docx": ooxml("word"), "xlsx": ooxml("xl"), "pptx": ooxml("ppt"),
    "odt": odf("text"), "ods": odf("spreadsheet"), "odp": odf("presentation"),
    "txt": "关于做好春耕工作的通知\r\n各村（社区）：……\n".encode(),
    "csv": "姓名,电话\n张三,0713-1234567\n".encode("gb18030"),
    "zip": archive(("名单.txt", "张三".encode())),
    "rar": b"Rar!\x1a\x07\x01\x00" + b"\x33" * 40,
    "7z": b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\x00" * 40,
    "jpg": picture("JPEG"), "png": picture("PNG"), "gif": picture("GIF"), "webp": picture("WEBP"),
    "bmp": picture("BMP"), "tif": picture("TIFF"),
}


def test_every_accepted_type_has_a_sample() -> None:
    assert set(SAMPLES) == set(FILE_TYPES)


@pytest.mark.parametrize("ext", sorted(FILE_TYPES))
def test_each_accepted_type_is_recognised_by_content_and_extension(ext: str) -> None:
    media, name = file_type(f"文件.{ext}", SAMPLES[ext])
    assert (media, name) == (FILE_TYPES[ext], f"文件.{ext}")
    media, name = file_type(f"文件.{ext.upper()}", SAMPLES[ext])  # the extension's case does not matter
    assert media == FILE_TYPES[ext]


@pytest.mark.parametrize("name, media", [("photo.jpeg", "image/jpeg"), ("scan.TIFF", "image/tiff")])
def test_extension_aliases(name: str, media: str) -> None:
    data = SAMPLES["jpg"] if media == "image/jpeg" else SAMPLES["tif"]
    assert file_type(name, data) == (media, name)


@pytest.mark.parametrize("ext", ["pdf", "docx", "xlsx", "pptx", "odt", "ofd", "zip", "png", "jpg", "txt", "rar"])
def test_a_name_without_extension_gets_the_one_its_content_tells(ext: str) -> None:
    assert file_type("春耕通知", SAMPLES[ext]) == (FILE_TYPES[ext], f"春耕通知.{ext}")


def test_an_office_97_file_without_extension_is_refused() -> None:
    """Word, Excel, PowerPoint 97 and WPS files are one container format: only the name tells."""
    with pytest.raises(UploadRefused) as refused:
        file_type("报表", OLE)
    assert refused.value.reason == "no_extension"


@pytest.mark.parametrize("name, data, reason", [
    # the hostile uploads: no extension, whatever media type the client claimed
    ("evil", SVG, "unknown"),
    ("evil", HTML, "unknown"),
    ("evil", b"<?xml version='1.0'?>" + SVG, "unknown"),
    # an extension that lies
    ("photo.png", HTML, "mismatch"),
    ("photo.gif", SVG, "mismatch"),
    ("report.pdf", SAMPLES["docx"], "mismatch"),
    ("table.xlsx", SAMPLES["docx"], "mismatch"),
    ("report.docx", b"PK\x03\x04" + b"garbage" * 20, "mismatch"),  # not a readable archive
    ("notes.txt", HTML, "mismatch"),
    ("notes.txt", b"  \n<svg onload=alert(1)>", "mismatch"),
    ("notes.txt", bytes(range(256)), "mismatch"),
    ("notes.csv", "a,b\n".encode("utf-16-le"), "mismatch"),  # UTF-16 without a byte-order mark
    ("photo.jpg", SAMPLES["png"], "mismatch"),
    # types that are not accepted at all
    ("page.html", HTML, "not_allowed"),
    ("page.htm", HTML, "not_allowed"),
    ("logo.svg", SVG, "not_allowed"),
    ("data.xml", b"<?xml version='1.0'?><a/>", "not_allowed"),
    ("setup.exe", b"MZ\x90\x00" + b"\0" * 60, "not_allowed"),
    ("macro.docm", SAMPLES["docx"], "not_allowed"),
    ("upload.bin", b"\x01" * 100, "not_allowed"),
    ("script.js", b"alert(1)", "not_allowed"),
    # nothing on the list
    ("blob", b"\x01\x02\x03\x04" * 10, "unknown"),
])
def test_refused(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(UploadRefused) as refused:
        file_type(name, data)
    assert refused.value.reason == reason
    assert refused.value.filename == name


@pytest.mark.parametrize("data, encoding", [
    ("春耕\n".encode("utf-8"), "utf-8"), ("\ufeff春耕\n".encode("utf-8"), "utf-8 with BOM"),
    ("春耕\n".encode("gb18030"), "GB18030"), ("\ufeff春耕\n".encode("utf-16-le"), "UTF-16 with BOM"),
    (b"a\tb\x0cc\r\n", "tab, form feed, CRLF"),
])
def test_plain_text_encodings(data: bytes, encoding: str) -> None:
    assert file_type("说明.txt", data) == ("text/plain", "说明.txt"), encoding


def test_a_huge_zip_directory_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A central directory of hundreds of thousands of entries would cost hundreds of MB to list."""
    from portal import uploads

    monkeypatch.setattr(uploads, "MAX_ZIP_ENTRIES", 2)
    assert sniff(SAMPLES["docx"])[0] == ("zip",)
    assert sniff(SAMPLES["odt"])[0] == ("odt", "zip")  # ODF is told by its first entry alone


def test_inline_types_are_exact_and_checked_against_the_content() -> None:
    assert INLINE_TYPES == {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"}
    assert content_is("image/png", SAMPLES["png"][:64])
    assert content_is("application/pdf", SAMPLES["pdf"][:64])
    assert not content_is("image/png", SVG[:64])
    assert not content_is("image/png", SAMPLES["jpg"][:64])
    assert not content_is("image/png,image/svg+xml", SAMPLES["png"][:64])


@pytest.mark.parametrize("name, media, expected", [
    ("photo.jpg", "image/jpeg", "photo.jpg"), ("photo.JPEG", "image/jpeg", "photo.JPEG"),
    ("photo.jpg", "image/png", "photo.png"),  # phones save PNGs as .jpg: the re-encoded file says what it is
    ("evil.html", "image/png", "evil.png"), ("evil", "image/gif", "evil.gif"),
])
def test_image_file_names_follow_the_format(name: str, media: str, expected: str) -> None:
    assert image_filename(name, media) == expected


# -- stored file names ---------------------------------------------------------------------------

@pytest.mark.parametrize("raw, clean", [
    ("通知\r\n.pdf", "通知.pdf"),
    ("report\u202efdp.exe", "reportfdp.exe"),  # RIGHT-TO-LEFT OVERRIDE: would read "reportexe.pdf"
    ("a\u2066b\u2067c\u2068d\u2069e\u202a\u202b\u202c\u200e\u200f.txt", "abcde.txt"),  # bidi isolates, marks
    ("zero\u200bwidth\ufeff.txt", "zerowidth.txt"),
    ("nul\x00byte\x1b[31m.txt", "nulbyte[31m.txt"),
    ("line\u2028para\u2029.txt", "linepara.txt"),
    ("lone\ud800surrogate.txt", "lonesurrogate.txt"),
    ("C:\\Users\\wang\\桌面\\名单.xlsx", "名单.xlsx"),
    ("../../etc/passwd", "passwd"),
    ("  ..hidden.txt. ", "hidden.txt"),
    ("tab\tand\u3000ideographic  space.txt", "taband ideographic space.txt"),
    ("e\u0301.txt", "\u00e9.txt"),  # NFC
    ("\u202e\r\n", "file"),
    (None, "file"),
])
def test_clean_filename(raw: str | None, clean: str) -> None:
    assert clean_filename(raw) == clean


def test_long_names_keep_their_extension() -> None:
    name = clean_filename("关" * 300 + ".docx")
    assert len(name) == 200 and name.endswith("关.docx")
    assert len(clean_filename("x" * 300)) == 200


def test_content_disposition_survives_a_stored_lone_surrogate() -> None:
    """A name stored before names were cleaned must still download, not raise."""
    header = content_disposition("bad\ud800name\u202e.pdf")
    assert header.startswith("attachment;") and "%ED" not in header
    assert "filename*=UTF-8''badname.pdf" in header


# -- files kept across a refused form (portal.uploads.UploadStash) ---------------------------------

def test_a_kept_file_comes_back_only_to_its_owner(tmp_path):
    from portal.uploads import UploadStash

    mine = UploadStash(tmp_path, "wang")
    uid = mine.keep(io.BytesIO(b"%PDF-1.4 kept"), "方案.pdf")
    loaded = mine.load(uid)
    with loaded["fp"] as f:
        assert (f.read(), loaded["filename"], loaded["size"]) == (b"%PDF-1.4 kept", "方案.pdf", 13)
    assert UploadStash(tmp_path, "li").load(uid) is None  # another user's uid opens nothing
    assert UploadStash(tmp_path, None).load(uid) is None
    for bad in ("../../etc/passwd", uid + "x", "", None, 5):
        assert mine.load(bad) is None


def test_kept_files_expire_and_are_removed(tmp_path):
    import os
    import time

    from portal.uploads import STASH_HOURS, UploadStash

    stash = UploadStash(tmp_path, "wang")
    old = stash.keep(io.BytesIO(b"old"), "old.txt")
    past = time.time() - STASH_HOURS * 3600 - 60
    for path in (tmp_path / "stash").glob(f"{old}.*"):
        os.utime(path, (past, past))
    assert stash.load(old) is None
    new = stash.keep(io.BytesIO(b"new"), "new.txt")  # keeping another one sweeps the expired
    assert sorted(p.name for p in (tmp_path / "stash").iterdir()) == sorted([f"{new}.bin", f"{new}.json"])


@pytest.mark.parametrize(("title", "filename", "expected"), [
    ("", "春耕方案.pdf", "春耕方案"),
    ("  实施  方案 ", "a.pdf", "实施 方案"),
    (None, "README", "README"),
    (5, ".env", ".env"),
    ("题" * 300, "a.pdf", "题" * 200),
])
def test_attachment_titles(title, filename, expected):
    from portal.uploads import clean_title

    assert clean_title(title, filename) == expected
